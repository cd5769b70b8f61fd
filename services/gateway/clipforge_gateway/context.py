"""Everything one gateway process shares: configuration, the running service, caches and fan-out."""

from __future__ import annotations

import asyncio
import gc
from typing import TYPE_CHECKING, Any

import asyncpg
import structlog
from clipforge_common.envelope import Envelope
from clipforge_common.events import CATALOG
from clipforge_common.jobs import Job, JobKind
from clipforge_common.storage import ObjectStore

from clipforge_gateway.cache import ReadModel
from clipforge_gateway.config import GatewayConfig
from clipforge_gateway.fanout import Fanout, publish_live
from clipforge_gateway.keys import KeyCache
from clipforge_gateway.lag import LagMonitor
from clipforge_gateway.projections.follower import ProjectionFollower
from clipforge_gateway.projections.projector import PURGE_JOB, Projector, event_message, views_for

if TYPE_CHECKING:
    from clipforge_common.service import ServiceRuntime

log = structlog.get_logger(__name__)


def tune_gc(young_threshold: int) -> None:
    """Garbage-collector settings for a long-running server (see bench/gateway.py for the effect).

    Start-up objects (modules, clients, schemas) live as long as the process: frozen, they are left
    out of full collections, which otherwise walk them over and over under load (about a third of
    the CPU of a cached read). A higher young-generation threshold collects short-lived request
    objects less often; only cyclic garbage waits longer, so memory stays bounded.
    """
    gc.collect()
    gc.freeze()
    if young_threshold > 0:
        _, older, oldest = gc.get_threshold()
        gc.set_threshold(young_threshold, older, oldest)


class _RuntimeBackend:
    """Version 0's connections: the runtime's pool (whatever the API reads) and Redis."""

    def __init__(self, ctx: GatewayContext) -> None:
        self.ctx = ctx

    @property
    def pool(self) -> asyncpg.Pool:
        return self.ctx.base_pool

    @property
    def redis(self) -> Any:
        return self.ctx.redis


class GatewayContext:
    def __init__(self, config: GatewayConfig, *, group_id: str | None = None) -> None:
        self.config = config
        self.group_id = group_id or config.group_id
        self.runtime: ServiceRuntime | None = None
        self.keys = KeyCache(config.key_cache_seconds)
        # The read model this replica's own projector writes (version 0), and the one the API reads:
        # the same until the active-projection pointer names a rebuilt version (see follower.py).
        self.base_read_model = ReadModel(
            _RuntimeBackend(self), namespace=config.redis_namespace, ttl_seconds=config.view_ttl_seconds
        )
        self.read_model = self.base_read_model
        self.follower = ProjectionFollower(self)
        self.fanout = Fanout(namespace=config.redis_namespace, queue_size=config.ws_queue_size)
        self.projector = Projector()
        self.lag: LagMonitor | None = None
        self.auth: Any = None  # deps.Authenticator, set by the app factory
        self._ready = asyncio.Event()

    # ------------------------------------------------------------------ what the running service gives us

    def _rt(self) -> ServiceRuntime:
        if self.runtime is None:
            raise RuntimeError("the gateway is not started")
        return self.runtime

    @property
    def pool(self) -> asyncpg.Pool:
        """The API's pool: it sees the active projection's read-model tables (and the shared ones)."""
        # Read at every use (never captured), so a test can prove a path runs without SQL.
        return self.follower.pool or self.base_pool

    @property
    def base_pool(self) -> asyncpg.Pool:
        """The runtime's pool: version 0's tables, where this replica's own projector writes."""
        pool = self._rt().pool
        assert pool is not None
        return pool

    @property
    def redis(self) -> Any:
        return self._rt().redis

    @property
    def store(self) -> ObjectStore:
        return self._rt().store

    @property
    def producer(self) -> str:
        return self._rt().producer

    # ------------------------------------------------------------------ lifecycle hooks

    async def start(self, runtime: ServiceRuntime) -> None:
        self.runtime = runtime
        await self.fanout.start(runtime.redis)
        if self.config.projector_enabled:
            topics = sorted({spec.topic for spec in CATALOG})
            self.lag = LagMonitor(
                runtime.settings, runtime.definition.consumer_group, topics, interval=self.config.lag_interval_seconds
            )
            self.lag.start()
        await self.follower.start()
        self._ready.set()
        tune_gc(self.config.gc_young_threshold)

    async def stop(self, _runtime: ServiceRuntime) -> None:
        await self.follower.stop()
        if self.lag is not None:
            await self.lag.stop()
        await self.fanout.stop()

    # ------------------------------------------------------------------ after the projector commits

    async def after_commit(self, envelope: Envelope, _emitted: list[Envelope]) -> None:
        """Refresh the views the event touched, then publish it to the video's live channel.

        Never raises: the event is committed, and a failure here must not make the consumer retry it
        (the retry would be skipped as a duplicate anyway). A view left stale expires with its TTL.
        """
        version = self.projector.take_version(envelope.event_id)
        if version is None:
            return  # ignored event (tombstoned video, tenant mismatch): nothing changed
        try:
            # The consumer starts before the on_start hooks: wait until we are bound.
            await asyncio.wait_for(self._ready.wait(), 60)
            await self.base_read_model.refresh_many(views_for(envelope.event_type, envelope.data), envelope.video_id)
            await publish_live(
                self.redis, self.config.redis_namespace, envelope.video_id, event_message(envelope, version)
            )
        except Exception as exc:
            log.warning("view refresh or live publish failed", error=str(exc), error_type=type(exc).__name__)

    # ------------------------------------------------------------------ jobs

    def purge_job(self, runtime: ServiceRuntime) -> JobKind:
        """Remove the objects the gateway wrote for a deleted video (idempotent, retried by the worker pool)."""

        async def run(job: Job) -> dict[str, Any]:
            keys = [k for k in job.payload.get("keys", []) if isinstance(k, str)]
            for key in keys:
                await runtime.store.delete(key)
            return {"deleted": keys}

        async def commit(_conn: asyncpg.Connection, _job: Job, _result: dict[str, Any]) -> None:
            return None

        async def fail(_conn: asyncpg.Connection, job: Job, reason_code: str, message: str) -> None:
            log.error(
                "objects of a deleted video not removed", video_id=job.video_id, reason=reason_code, error=message
            )

        return JobKind(kind=PURGE_JOB, run=run, commit=commit, fail=fail)
