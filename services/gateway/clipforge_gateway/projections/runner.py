"""The projector of one read-model version, run in-process from the topics' beginning.

``clipforge replay rebuild`` runs one until its consumer group has no lag, then stops it; after a
switch, gateway replicas that run the projector run one for the active version, so it keeps up.
It is the gateway's own projector code (:class:`Projector`) behind the platform's
:class:`EventConsumer` (inbox dedupe, retries, dead letters), fed by a plain aiokafka consumer that
commits after each applied batch.
"""

from __future__ import annotations

import asyncio
import contextlib
import time
from collections import Counter
from collections.abc import Callable, Sequence
from typing import Any

import asyncpg
import structlog
from aiokafka import AIOKafkaConsumer, AIOKafkaProducer, TopicPartition
from aiokafka.structs import OffsetAndMetadata
from clipforge_common import __version__
from clipforge_common.consumer import EventConsumer, Record
from clipforge_common.envelope import Envelope
from clipforge_common.events import CATALOG
from clipforge_common.settings import Settings
from clipforge_common.topics import ensure_topics
from pydantic import BaseModel

from clipforge_gateway.cache import ReadModel
from clipforge_gateway.fanout import publish_live
from clipforge_gateway.lag import LagMonitor
from clipforge_gateway.projections.projector import Projector, event_message, views_for
from clipforge_gateway.projections.versions import ProjectionTarget, open_projection_pool

log = structlog.get_logger(__name__)

TOPICS: tuple[str, ...] = tuple(sorted({spec.topic for spec in CATALOG}))


class Progress(BaseModel):
    """What a running rebuild reports."""

    version: int
    lag: int
    partitions_behind: int
    outcomes: dict[str, int]
    elapsed_seconds: float


class PoolBackend:
    """A read model's connections: a projection version's pool and Redis."""

    def __init__(self, pool: asyncpg.Pool, redis: Any) -> None:
        self.pool = pool
        self.redis = redis


class ProjectionRunner:
    """Consume every topic into ``target``; with ``redis``, also refresh its views and live events."""

    def __init__(
        self,
        settings: Settings,
        *,
        database: str,
        target: ProjectionTarget,
        tenants: Sequence[str] = (),
        redis: Any = None,
        view_ttl_seconds: int = 3600,
    ) -> None:
        self.settings = settings
        self.database = database
        self.target = target
        self.tenants = tuple(tenants)
        self.redis = redis
        self.view_ttl_seconds = view_ttl_seconds
        self.projector = Projector()
        self.outcomes: Counter[str] = Counter()
        self.pool: asyncpg.Pool | None = None
        self.read_model: ReadModel | None = None
        self._consumer: AIOKafkaConsumer | None = None
        self._producer: AIOKafkaProducer | None = None
        self._events: EventConsumer | None = None
        self._lag = LagMonitor(
            settings, target.group_id, list(TOPICS), service=f"gateway-projection-v{target.version}", interval=1.0
        )
        self._task: asyncio.Task[None] | None = None
        self._started = time.monotonic()

    async def start(self) -> None:
        await ensure_topics(self.settings)
        self.pool = await open_projection_pool(self.settings, self.database, self.target)
        if self.redis is not None:
            self.read_model = ReadModel(
                PoolBackend(self.pool, self.redis), namespace=self.target.namespace, ttl_seconds=self.view_ttl_seconds
            )
        self._producer = AIOKafkaProducer(
            bootstrap_servers=self.settings.kafka_bootstrap,
            client_id=f"{self.settings.kafka_client_id}-projection-v{self.target.version}",
            acks="all",
            enable_idempotence=True,
        )
        await self._producer.start()
        self._events = EventConsumer(
            service="gateway",
            group_id=self.target.group_id,
            pool=self.pool,
            handlers=self.projector.handlers(),
            dead_letter=self._dead_letter,
            producer=f"gateway@{__version__}",
            max_attempts=self.settings.handler_max_retries,
            retry_base_seconds=self.settings.handler_retry_base_seconds,
            on_applied=self._after_commit,
            tenants=self.tenants,
        )
        self._consumer = AIOKafkaConsumer(
            *TOPICS,
            bootstrap_servers=self.settings.kafka_bootstrap,
            client_id=f"{self.settings.kafka_client_id}-projection-v{self.target.version}",
            group_id=self.target.group_id,
            enable_auto_commit=False,
            auto_offset_reset="earliest",
            max_poll_interval_ms=10 * 60 * 1000,
        )
        await self._consumer.start()
        self._started = time.monotonic()
        self._task = asyncio.create_task(self._run(), name=f"projection-v{self.target.version}")

    async def _dead_letter(self, topic: str, key: bytes | None, value: bytes, headers: dict[str, str]) -> None:
        assert self._producer is not None
        await self._producer.send_and_wait(topic, value, key=key, headers=[(k, v.encode()) for k, v in headers.items()])

    async def _after_commit(self, envelope: Envelope, _emitted: list[Envelope]) -> None:
        version = self.projector.take_version(envelope.event_id)
        if version is None or self.read_model is None:
            return  # catching up: nobody reads this version yet, views are built on first read
        try:
            await self.read_model.refresh_many(views_for(envelope.event_type, envelope.data), envelope.video_id)
            await publish_live(self.redis, self.target.namespace, envelope.video_id, event_message(envelope, version))
        except Exception as exc:
            log.warning("view refresh or live publish failed", error=str(exc), error_type=type(exc).__name__)

    async def _run(self) -> None:
        assert self._consumer is not None and self._events is not None
        while True:
            batch = await self._consumer.getmany(timeout_ms=500, max_records=500)
            for tp, records in batch.items():
                for raw in records:
                    outcome = await self._events.handle(
                        Record(
                            topic=raw.topic,
                            partition=raw.partition,
                            offset=raw.offset,
                            key=raw.key,
                            value=raw.value,
                            headers=dict(raw.headers or ()),
                        )
                    )
                    self.outcomes[outcome] += 1
                if records:
                    await self._consumer.commit({tp: OffsetAndMetadata(records[-1].offset + 1, "")})

    def _check_task(self) -> None:
        if self._task is not None and self._task.done() and not self._task.cancelled():
            self._task.result()  # surface a crashed projector

    async def lag(self) -> dict[TopicPartition, int]:
        """Records the group still has to apply, per partition of every topic."""
        self._check_task()
        return await self._lag.measure()

    def progress(self, lag: dict[TopicPartition, int]) -> Progress:
        return Progress(
            version=self.target.version,
            lag=sum(lag.values()),
            partitions_behind=sum(1 for v in lag.values() if v > 0),
            outcomes=dict(self.outcomes),
            elapsed_seconds=round(time.monotonic() - self._started, 1),
        )

    async def wait_caught_up(
        self,
        *,
        on_progress: Callable[[Progress], None] | None = None,
        poll_seconds: float = 1.0,
    ) -> Progress:
        """Wait until the lag is 0 on every partition (callers bound it with ``asyncio.timeout``)."""
        while True:
            lag = await self.lag()
            report = self.progress(lag)
            if on_progress is not None:
                on_progress(report)
            if lag and report.lag == 0:
                return report
            await asyncio.sleep(poll_seconds)

    async def stop(self) -> None:
        if self._task is not None:
            self._task.cancel()
            with contextlib.suppress(asyncio.CancelledError, Exception):
                await self._task
        await self._lag.stop()
        if self._consumer is not None:
            with contextlib.suppress(Exception):
                await self._consumer.stop()
        if self._producer is not None:
            with contextlib.suppress(Exception):
                await self._producer.stop()
        if self.pool is not None:
            await self.pool.close()
