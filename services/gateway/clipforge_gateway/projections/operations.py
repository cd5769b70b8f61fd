"""Operator use cases on the gateway's projections: rebuild, switch, drop, list (what `clipforge replay` calls).

All take the gateway's database and its base consumer group and Redis namespace (the
configuration of version 0), so they work on any gateway deployment, including tests' isolated ones.
"""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator, Callable, Sequence
from contextlib import asynccontextmanager

import asyncpg
from aiokafka import AIOKafkaConsumer, TopicPartition
from aiokafka.errors import CommitFailedError, IllegalGenerationError, RebalanceInProgressError, UnknownMemberIdError
from aiokafka.structs import OffsetAndMetadata
from clipforge_common.cache import create_redis, delete_prefix
from clipforge_common.db import open_service_database
from clipforge_common.replay import topic_partitions
from clipforge_common.settings import Settings
from clipforge_common.topics import ensure_topics
from pydantic import BaseModel

from clipforge_gateway.projections import versions
from clipforge_gateway.projections.runner import TOPICS, Progress, ProjectionRunner
from clipforge_gateway.projections.versions import ProjectionError, ProjectionInfo, ProjectionTarget

# How long a rebuild waits for a just-stopped version's consumer group to settle (a guard, not a pause).
GROUP_SETTLE_SECONDS = 60.0


class Deployment(BaseModel):
    """Which gateway: its database, and the consumer group and Redis namespace of version 0."""

    database: str = "clipforge_gateway"
    base_group: str = versions.DEFAULT_GROUP
    base_namespace: str = ""

    def target(self, version: int) -> ProjectionTarget:
        return ProjectionTarget.for_version(version, base_group=self.base_group, base_namespace=self.base_namespace)


class RebuildResult(BaseModel):
    target: ProjectionTarget
    resumed: bool
    progress: Progress
    switched: bool
    previous_version: int | None = None


@asynccontextmanager
async def gateway_database(settings: Settings, deployment: Deployment) -> AsyncIterator[asyncpg.Pool]:
    """The gateway's own database (created and migrated if needed, as the service would)."""
    pool = await open_service_database(settings, "gateway", "clipforge_gateway", database=deployment.database)
    try:
        yield pool
    finally:
        await pool.close()


async def start_group_at_beginning(settings: Settings, group_id: str) -> None:
    """Commit the beginning of every topic for ``group_id`` (a dropped version's group may still have offsets)."""
    await ensure_topics(settings)
    layout = await topic_partitions(settings, TOPICS)
    partitions = [TopicPartition(topic, p) for topic, parts in layout.items() for p in parts]
    consumer = AIOKafkaConsumer(bootstrap_servers=settings.kafka_bootstrap, group_id=group_id, enable_auto_commit=False)
    await consumer.start()
    try:
        consumer.assign(partitions)
        beginnings = await consumer.beginning_offsets(partitions)
        offsets = {tp: OffsetAndMetadata(offset, "") for tp, offset in beginnings.items()}
        # A runner of this version that just stopped (a replica following a switch back) leaves the
        # group with a rebalance still settling; the broker refuses outside commits until it is empty.
        deadline = asyncio.get_running_loop().time() + GROUP_SETTLE_SECONDS
        while True:
            try:
                await consumer.commit(offsets)
                return
            except (CommitFailedError, UnknownMemberIdError, RebalanceInProgressError, IllegalGenerationError) as exc:
                if asyncio.get_running_loop().time() > deadline:
                    raise ProjectionError(
                        f"consumer group {group_id} still has members: stop what runs this version, then rebuild"
                    ) from exc
                await asyncio.sleep(0.5)
    finally:
        await consumer.stop()


async def rebuild(
    settings: Settings,
    deployment: Deployment,
    *,
    version: int | None = None,
    tenants: Sequence[str] = (),
    switch: bool = True,
    on_start: Callable[[ProjectionTarget, bool], None] | None = None,
    on_progress: Callable[[Progress], None] | None = None,
    poll_seconds: float = 1.0,
) -> RebuildResult:
    """Project every event from the topics' beginning into a new version until its lag is 0, then switch.

    ``tenants`` limits the version to those tenants (for a gateway dedicated to them). A version
    left ``building`` by an interrupted run is resumed: its group's offsets and inbox say where.
    """
    async with gateway_database(settings, deployment) as pool:
        async with pool.acquire() as conn:
            target = deployment.target(version if version is not None else await versions.next_version(conn))
            resumed = not await versions.prepare(conn, target, tenants)
        if not resumed:
            await start_group_at_beginning(settings, target.group_id)
        if on_start is not None:
            on_start(target, resumed)
        runner = ProjectionRunner(settings, database=deployment.database, target=target, tenants=tenants)
        await runner.start()
        try:
            progress = await runner.wait_caught_up(on_progress=on_progress, poll_seconds=poll_seconds)
        finally:
            await runner.stop()
        await versions.mark_ready(pool, target.version)
        previous = None
        if switch:
            async with pool.acquire() as conn:
                previous = await versions.switch(conn, target)
        return RebuildResult(
            target=target, resumed=resumed, progress=progress, switched=switch, previous_version=previous
        )


async def switch_to(settings: Settings, deployment: Deployment, version: int) -> tuple[ProjectionTarget, int]:
    """Point every replica's reads at ``version`` (0: the original); returns it and the previous version."""
    async with gateway_database(settings, deployment) as pool, pool.acquire() as conn:
        if version == 0:
            target = deployment.target(0)
        else:
            known = {p.target.version: p.target for p in await versions.list_projections(conn)}
            if version not in known:
                raise ProjectionError(f"there is no projection v{version}; build it with clipforge replay rebuild")
            target = known[version]
        return target, await versions.switch(conn, target)


async def drop(settings: Settings, deployment: Deployment, version: int) -> tuple[ProjectionTarget, int]:
    """Drop a version that is not read: its schema, inbox marks and Redis keys; returns the keys removed.

    Its consumer group's committed offsets stay in Kafka until the broker expires them (an empty
    group's offsets are kept ``offsets.retention.minutes``, 7 days by default); a later rebuild of
    the same version starts from the beginning anyway, because :func:`versions.prepare` resets it.
    """
    async with gateway_database(settings, deployment) as pool, pool.acquire() as conn:
        target = await versions.drop(conn, version)
    removed = 0
    if target.namespace and target.namespace != deployment.base_namespace:
        redis = create_redis(settings)
        try:
            removed = await delete_prefix(redis, target.namespace)
        finally:
            await redis.aclose()
    return target, removed


async def status(settings: Settings, deployment: Deployment) -> tuple[int, list[ProjectionInfo]]:
    """The version being read, and every version built."""
    async with gateway_database(settings, deployment) as pool:
        active = await versions.active_projection(pool)
        return (active.version if active else 0), await versions.list_projections(pool)


__all__ = ["Deployment", "ProjectionError", "RebuildResult", "drop", "rebuild", "status", "switch_to"]
