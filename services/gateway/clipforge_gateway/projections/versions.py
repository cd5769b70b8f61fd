"""Versions of the gateway's read model, and the pointer saying which one the API reads.

A projection version is where one projector writes: a PostgreSQL schema holding the read-model
tables, a Kafka consumer group and a Redis namespace for its views and live events.

* Version 0 is the original: the ``public`` schema, the gateway's configured group and namespace.
* Version N >= 1 (``clipforge replay rebuild``) is schema ``projection_v<N>`` in the gateway's own
  database, group ``<base group>.v<N>`` and namespace ``<base namespace>v<N>:``.

A schema rather than another database: the API's commands write the read model and their event to
the outbox in one transaction, and tenants, keys and projects (state the events do not carry) stay
where they are. A connection whose ``search_path`` is ``projection_v<N>, public`` sees the
version's read-model tables and the shared ones, so the repository's SQL is the same for every
version. ``active_projection`` is the one pointer: gateway replicas poll it and switch their reads
(and, when they run the projector, keep the active version up to date).
"""

from __future__ import annotations

import json
from collections.abc import Sequence
from datetime import datetime

import asyncpg
from clipforge_common.db import _init_connection
from clipforge_common.settings import Settings
from pydantic import BaseModel, ConfigDict, Field

PUBLIC = "public"
DEFAULT_GROUP = "clipforge.gateway"
# The tables the projector writes (usage too: ingested seconds and renders come from events).
READ_MODEL_TABLES: tuple[str, ...] = ("videos", "transcripts", "clips", "renders", "usage")
# Usage the API records itself (no event carries it): carried over to the version switched to.
API_USAGE_METRICS: tuple[str, ...] = ("upload_bytes",)
SWITCH_LOCK = 72_310_017


class ProjectionError(Exception):
    """An operator asked for something the projections' state does not allow."""


class ProjectionTarget(BaseModel):
    """Where one version of the read model lives."""

    model_config = ConfigDict(frozen=True)

    version: int = Field(ge=0)
    schema_name: str
    group_id: str
    namespace: str

    @classmethod
    def for_version(cls, version: int, *, base_group: str | None = None, base_namespace: str = "") -> ProjectionTarget:
        group = base_group or DEFAULT_GROUP
        if version == 0:
            return cls(version=0, schema_name=PUBLIC, group_id=group, namespace=base_namespace)
        if version < 0:
            raise ProjectionError("projection versions are 0 (the original) or positive")
        return cls(
            version=version,
            schema_name=f"projection_v{version}",
            group_id=f"{group}.v{version}",
            namespace=f"{base_namespace}v{version}:",
        )

    @property
    def search_path(self) -> str:
        return PUBLIC if self.schema_name == PUBLIC else f'"{self.schema_name}", {PUBLIC}'


class ProjectionInfo(BaseModel):
    target: ProjectionTarget
    status: str
    tenants: list[str] = Field(default_factory=list)
    created_at: datetime | None = None
    caught_up_at: datetime | None = None
    active: bool = False


def _quote(name: str) -> str:
    return '"' + name.replace('"', '""') + '"'


async def open_projection_pool(settings: Settings, database: str, target: ProjectionTarget) -> asyncpg.Pool:
    """A pool whose connections see ``target``'s read-model tables (and the shared ones)."""
    pool = await asyncpg.create_pool(
        settings.pg_dsn(database),
        min_size=settings.pg_pool_min,
        max_size=settings.pg_pool_max,
        init=_init_connection,
        command_timeout=60,
        server_settings={"search_path": target.search_path},
    )
    assert pool is not None
    return pool


# ------------------------------------------------------------------------------------------ pointer


async def active_projection(conn: asyncpg.Connection | asyncpg.Pool) -> ProjectionTarget | None:
    """The version the API reads; None for version 0 (the replica's own configuration)."""
    row = await conn.fetchrow("SELECT version, schema_name, group_id, namespace FROM active_projection")
    if row is None or row["version"] == 0:
        return None
    return ProjectionTarget(**dict(row))


async def list_projections(conn: asyncpg.Connection | asyncpg.Pool) -> list[ProjectionInfo]:
    active = await active_projection(conn)
    rows = await conn.fetch("SELECT * FROM projections ORDER BY version")
    return [
        ProjectionInfo(
            target=ProjectionTarget(
                version=r["version"], schema_name=r["schema_name"], group_id=r["group_id"], namespace=r["namespace"]
            ),
            status=r["status"],
            tenants=json.loads(r["tenants"]) if isinstance(r["tenants"], str) else list(r["tenants"]),
            created_at=r["created_at"],
            caught_up_at=r["caught_up_at"],
            active=active is not None and active.version == r["version"],
        )
        for r in rows
    ]


async def next_version(conn: asyncpg.Connection | asyncpg.Pool) -> int:
    return int(await conn.fetchval("SELECT coalesce(max(version), 0) + 1 FROM projections"))


async def prepare(conn: asyncpg.Connection, target: ProjectionTarget, tenants: Sequence[str] = ()) -> bool:
    """Register ``target`` and create its empty tables; False when it is an unfinished build to resume.

    The tables copy the public ones' definitions (columns, defaults, constraints, indexes), so a
    version always has the shape of the current migrations.
    """
    if target.version < 1:
        raise ProjectionError("version 0 is the original read model; rebuild into version 1 or more")
    async with conn.transaction():
        row = await conn.fetchrow("SELECT * FROM projections WHERE version = $1 FOR UPDATE", target.version)
        if row is not None and row["status"] == "ready":
            raise ProjectionError(
                f"projection v{target.version} is already built; switch to it "
                f"(clipforge replay switch --version {target.version}) or drop it first"
            )
        if row is not None and row["status"] == "building":
            if row["group_id"] != target.group_id or row["namespace"] != target.namespace:
                raise ProjectionError(f"projection v{target.version} is being built with another group or namespace")
            return False
        await conn.execute(
            """INSERT INTO projections (version, schema_name, group_id, namespace, tenants, status)
               VALUES ($1, $2, $3, $4, $5, 'building')
               ON CONFLICT (version) DO UPDATE SET schema_name = EXCLUDED.schema_name,
                      group_id = EXCLUDED.group_id, namespace = EXCLUDED.namespace, tenants = EXCLUDED.tenants,
                      status = 'building', created_at = now(), caught_up_at = NULL, dropped_at = NULL""",
            target.version,
            target.schema_name,
            target.group_id,
            target.namespace,
            list(tenants),  # the pool's codec encodes jsonb
        )
        schema = _quote(target.schema_name)
        await conn.execute(f"DROP SCHEMA IF EXISTS {schema} CASCADE")
        await conn.execute(f"CREATE SCHEMA {schema}")
        for table in READ_MODEL_TABLES:
            await conn.execute(f"CREATE TABLE {schema}.{table} (LIKE {PUBLIC}.{table} INCLUDING ALL)")
        # A previous life of this version (dropped) must not make its events look already applied.
        await conn.execute("DELETE FROM processed_events WHERE consumer_group = $1", target.group_id)
    return True


async def mark_ready(conn: asyncpg.Connection | asyncpg.Pool, version: int) -> None:
    await conn.execute(
        "UPDATE projections SET status = 'ready', caught_up_at = now() WHERE version = $1 AND status = 'building'",
        version,
    )


async def switch(conn: asyncpg.Connection, target: ProjectionTarget) -> int:
    """Point the API at ``target`` (version 0: back to the original); returns the previous version.

    Usage the API recorded itself (upload bytes) is copied from the version read until now, in
    the same transaction.
    """
    async with conn.transaction():
        await conn.execute("SELECT pg_advisory_xact_lock($1)", SWITCH_LOCK)
        if target.version > 0:
            status = await conn.fetchval("SELECT status FROM projections WHERE version = $1", target.version)
            if status != "ready":
                raise ProjectionError(
                    f"projection v{target.version} is {status or 'unknown'}; only a built (ready) one can be read"
                )
        current = await conn.fetchrow("SELECT version, schema_name FROM active_projection")
        previous, previous_schema = (current["version"], current["schema_name"]) if current else (0, PUBLIC)
        if previous == target.version:
            return previous
        await conn.execute(
            f"""INSERT INTO {_quote(target.schema_name)}.usage (tenant_id, day, metric, amount)
                SELECT tenant_id, day, metric, amount FROM {_quote(previous_schema)}.usage WHERE metric = ANY($1::text[])
                ON CONFLICT (tenant_id, day, metric) DO UPDATE SET amount = EXCLUDED.amount""",
            list(API_USAGE_METRICS),
        )
        await conn.execute(
            """INSERT INTO active_projection (singleton, version, schema_name, group_id, namespace, previous_version)
               VALUES (true, $1, $2, $3, $4, $5)
               ON CONFLICT (singleton) DO UPDATE SET version = EXCLUDED.version, schema_name = EXCLUDED.schema_name,
                      group_id = EXCLUDED.group_id, namespace = EXCLUDED.namespace,
                      previous_version = EXCLUDED.previous_version, switched_at = now()""",
            target.version,
            target.schema_name,
            target.group_id,
            target.namespace,
            previous,
        )
        return previous


async def drop(conn: asyncpg.Connection, version: int) -> ProjectionTarget:
    """Remove a version's tables and inbox marks (never the active one, never version 0)."""
    if version < 1:
        raise ProjectionError("version 0 is the original read model and cannot be dropped")
    async with conn.transaction():
        await conn.execute("SELECT pg_advisory_xact_lock($1)", SWITCH_LOCK)
        row = await conn.fetchrow("SELECT * FROM projections WHERE version = $1 FOR UPDATE", version)
        if row is None or row["status"] == "dropped":
            raise ProjectionError(f"there is no projection v{version} to drop")
        active = await active_projection(conn)
        if active is not None and active.version == version:
            raise ProjectionError(f"projection v{version} is the one being read; switch to another first")
        target = ProjectionTarget(
            version=version, schema_name=row["schema_name"], group_id=row["group_id"], namespace=row["namespace"]
        )
        await conn.execute(f"DROP SCHEMA IF EXISTS {_quote(target.schema_name)} CASCADE")
        await conn.execute("DELETE FROM processed_events WHERE consumer_group = $1", target.group_id)
        await conn.execute("UPDATE projections SET status = 'dropped', dropped_at = now() WHERE version = $1", version)
    return target
