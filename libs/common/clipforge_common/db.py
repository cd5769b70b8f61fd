"""PostgreSQL plumbing: bounded asyncpg pools, database creation and plain-SQL migrations.

Migrations are ``NNN_name.sql`` files applied in order, once, inside a transaction guarded by an
advisory lock so several instances of a service can start at the same time.
"""

from __future__ import annotations

import contextlib
import json
from collections.abc import Iterable
from importlib import resources
from pathlib import Path

import asyncpg
import structlog

from clipforge_common.settings import Settings

log = structlog.get_logger(__name__)

MIGRATION_LOCK = 72_310_001


async def _init_connection(conn: asyncpg.Connection) -> None:
    await conn.set_type_codec("jsonb", encoder=json.dumps, decoder=json.loads, schema="pg_catalog")
    await conn.set_type_codec("json", encoder=json.dumps, decoder=json.loads, schema="pg_catalog")


async def ensure_database(settings: Settings, database: str) -> None:
    """Create ``database`` on the server if it does not exist yet (a fresh local stack)."""
    conn = await asyncpg.connect(settings.pg_dsn("postgres"), timeout=10)
    try:
        exists = await conn.fetchval("SELECT 1 FROM pg_database WHERE datname = $1", database)
        if not exists:
            # Another instance may create it first.
            with contextlib.suppress(asyncpg.DuplicateDatabaseError, asyncpg.UniqueViolationError):
                await conn.execute(f'CREATE DATABASE "{database}"')
    finally:
        await conn.close()


async def drop_database(settings: Settings, database: str) -> None:
    """Drop ``database`` if it exists, disconnecting its clients (test and rebuild clean-up)."""
    conn = await asyncpg.connect(settings.pg_dsn("postgres"), timeout=10)
    try:
        await conn.execute(f'DROP DATABASE IF EXISTS "{database}" WITH (FORCE)')
    finally:
        await conn.close()


async def create_pool(settings: Settings, database: str) -> asyncpg.Pool:
    pool = await asyncpg.create_pool(
        settings.pg_dsn(database),
        min_size=settings.pg_pool_min,
        max_size=settings.pg_pool_max,
        init=_init_connection,
        command_timeout=60,
    )
    assert pool is not None
    return pool


def migration_files(package: str) -> list[tuple[str, str]]:
    """``(name, sql)`` of a package's ``migrations/*.sql`` in name order."""
    root = resources.files(package) / "migrations"
    files = sorted((p for p in root.iterdir() if p.name.endswith(".sql")), key=lambda p: p.name)
    return [(p.name, p.read_text()) for p in files]


async def migrate(pool: asyncpg.Pool, namespaces: Iterable[tuple[str, list[tuple[str, str]]]]) -> list[str]:
    """Apply pending migrations; return the names applied now."""
    applied_now: list[str] = []
    async with pool.acquire() as conn:
        await conn.execute(
            """CREATE TABLE IF NOT EXISTS schema_migrations (
                   namespace text NOT NULL, name text NOT NULL,
                   applied_at timestamptz NOT NULL DEFAULT now(), PRIMARY KEY (namespace, name))"""
        )
        async with conn.transaction():
            await conn.execute("SELECT pg_advisory_xact_lock($1)", MIGRATION_LOCK)
            for namespace, files in namespaces:
                done = {
                    r["name"]
                    for r in await conn.fetch("SELECT name FROM schema_migrations WHERE namespace=$1", namespace)
                }
                for name, sql in files:
                    if name in done:
                        continue
                    await conn.execute(sql)
                    await conn.execute(
                        "INSERT INTO schema_migrations (namespace, name) VALUES ($1, $2)", namespace, name
                    )
                    applied_now.append(f"{namespace}/{name}")
    if applied_now:
        log.info("migrations applied", migrations=applied_now)
    return applied_now


async def open_service_database(
    settings: Settings, service: str, package: str | None, *, database: str | None = None
) -> asyncpg.Pool:
    """Create the service's database if needed, open its pool and apply common + own migrations."""
    database = database or settings.database_for(service)
    await ensure_database(settings, database)
    pool = await create_pool(settings, database)
    namespaces = [("common", migration_files("clipforge_common"))]
    if package is not None and (Path(str(resources.files(package))) / "migrations").is_dir():
        namespaces.append((service, migration_files(package)))
    await migrate(pool, namespaces)
    return pool
