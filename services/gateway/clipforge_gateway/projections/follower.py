"""A gateway replica follows the ``active_projection`` pointer without a restart.

Every ``projection_poll_seconds`` the replica reads the pointer from its database. When it names
another version, the replica

1. opens a pool whose ``search_path`` shows that version's read-model tables;
2. if it runs the projector, starts a :class:`ProjectionRunner` for the version (its consumer group
   is shared by all replicas, so each event is projected once) and waits until the group has no lag,
   so reads never step back in time (bounded by ``projection_catch_up_seconds``);
3. swaps the API's pool and read model, and moves the live-event subscription to the version's
   namespace (open WebSockets are told to reconnect and get a fresh snapshot);
4. stops the previous version's runner and closes its pool.

The replica's own projector (its configured group, version 0) keeps running: the original read
model stays current, so switching back is immediate, until the operator drops versions.
"""

from __future__ import annotations

import asyncio
import contextlib
from typing import TYPE_CHECKING

import asyncpg
import structlog

from clipforge_gateway.cache import ReadModel
from clipforge_gateway.projections import versions
from clipforge_gateway.projections.runner import PoolBackend, ProjectionRunner
from clipforge_gateway.projections.versions import ProjectionTarget

if TYPE_CHECKING:
    from clipforge_gateway.context import GatewayContext

log = structlog.get_logger(__name__)


class ProjectionFollower:
    def __init__(self, ctx: GatewayContext) -> None:
        self.ctx = ctx
        self.active: ProjectionTarget | None = None  # None: version 0, the replica's own configuration
        self.pool: asyncpg.Pool | None = None  # the active version's pool (None: the runtime's)
        self.runner: ProjectionRunner | None = None
        self._lock = asyncio.Lock()
        self._task: asyncio.Task[None] | None = None

    @property
    def version(self) -> int:
        return self.active.version if self.active is not None else 0

    async def start(self) -> None:
        await self.check()
        self._task = asyncio.create_task(self._loop(), name="projection-follower")

    async def stop(self) -> None:
        if self._task is not None:
            self._task.cancel()
            with contextlib.suppress(asyncio.CancelledError, Exception):
                await self._task
        if self.runner is not None:
            await self.runner.stop()
        if self.pool is not None:
            await self.pool.close()

    async def _loop(self) -> None:
        while True:
            await asyncio.sleep(self.ctx.config.projection_poll_seconds)
            try:
                await self.check()
            except asyncio.CancelledError:
                raise
            except Exception as exc:  # PostgreSQL may be restarting: try again next round
                log.warning("projection pointer not followed", error=str(exc), error_type=type(exc).__name__)

    async def check(self) -> bool:
        """Follow the pointer if it moved; True when this replica switched now."""
        async with self._lock:
            runtime = self.ctx._rt()
            assert runtime.pool is not None
            target = await versions.active_projection(runtime.pool)
            if target == self.active:
                return False
            await self._switch(target)
            return True

    async def _switch(self, target: ProjectionTarget | None) -> None:
        ctx, runtime = self.ctx, self.ctx._rt()
        pool: asyncpg.Pool | None = None
        runner: ProjectionRunner | None = None
        read_model = ctx.base_read_model
        namespace = ctx.config.redis_namespace
        if target is not None:
            database = runtime.definition.database or runtime.settings.database_for("gateway")
            pool = await versions.open_projection_pool(runtime.settings, database, target)
            try:
                if ctx.config.projector_enabled:
                    runner = ProjectionRunner(
                        runtime.settings,
                        database=database,
                        target=target,
                        tenants=runtime.definition.tenants,
                        redis=runtime.redis,
                        view_ttl_seconds=ctx.config.view_ttl_seconds,
                    )
                    await runner.start()
                    try:
                        async with asyncio.timeout(ctx.config.projection_catch_up_seconds):
                            await runner.wait_caught_up(poll_seconds=0.5)
                    except TimeoutError:
                        log.warning(
                            "switching reads before the projection caught up", projection_version=target.version
                        )
            except BaseException:
                if runner is not None:
                    await runner.stop()
                await pool.close()
                raise
            read_model = ReadModel(
                PoolBackend(pool, runtime.redis), namespace=target.namespace, ttl_seconds=ctx.config.view_ttl_seconds
            )
            namespace = target.namespace
        old_pool, old_runner = self.pool, self.runner
        self.pool, self.runner, self.active = pool, runner, target
        ctx.read_model = read_model
        await ctx.fanout.switch_namespace(namespace)
        log.info("read model switched", projection_version=self.version, namespace=namespace)
        if old_runner is not None:
            await old_runner.stop()
        if old_pool is not None:
            try:
                await asyncio.wait_for(old_pool.close(), 30)  # requests still using it finish first
            except TimeoutError:
                old_pool.terminate()
