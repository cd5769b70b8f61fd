"""The process shell every ClipForge service runs in.

It wires a service's handlers and job kinds to the platform: settings, logging and tracing, the
service's own PostgreSQL database and migrations, topics, the Kafka consumer group, the outbox
relay, the job workers and a small HTTP server with /healthz, /readyz and /metrics. SIGTERM stops
consuming, lets running jobs finish (or releases them) and closes everything in order.
"""

from __future__ import annotations

import asyncio
import contextlib
import signal
from collections.abc import Awaitable, Callable, Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any

import asyncpg
import structlog
import uvicorn
from fastapi import FastAPI
from fastapi.responses import JSONResponse, Response
from faststream.kafka import KafkaBroker, KafkaMessage
from faststream.middlewares import AckPolicy
from prometheus_client import CONTENT_TYPE_LATEST, generate_latest

from clipforge_common import __version__
from clipforge_common.broker import create_broker
from clipforge_common.cache import create_redis
from clipforge_common.consumer import EventConsumer, Handler, Record
from clipforge_common.db import open_service_database
from clipforge_common.envelope import Envelope
from clipforge_common.events import spec_for
from clipforge_common.jobs import JobKind, WorkerPool
from clipforge_common.outbox import OutboxRelay
from clipforge_common.progress import ProgressReporter
from clipforge_common.settings import Settings, get_settings
from clipforge_common.storage import ObjectStore
from clipforge_common.telemetry import setup_logging, setup_telemetry
from clipforge_common.topics import ensure_topics

log = structlog.get_logger(__name__)

Hook = Callable[["ServiceRuntime"], Awaitable[None]]
AppliedHook = Callable[[Envelope, list[Envelope]], Awaitable[None]]


@dataclass
class ServiceDefinition:
    name: str
    package: str
    handlers: Mapping[str, Handler] = field(default_factory=dict)
    job_kinds: Sequence[JobKind] = ()
    # Job kinds that need the running runtime (object store, settings, progress): built at start.
    job_kinds_factory: Callable[[ServiceRuntime], Sequence[JobKind]] | None = None
    uses_redis: bool = False
    http_app: FastAPI | None = None
    on_start: Sequence[Hook] = ()
    on_stop: Sequence[Hook] = ()
    group_id: str | None = None
    # Database name override (default clipforge_<name>), for an extra instance beside the default one.
    database: str | None = None
    # Serve only these tenants' events (a dedicated instance with its own group); empty = everyone.
    tenants: Sequence[str] = ()
    # Called after each applied event's transaction commits (e.g. refresh caches, fan out live events).
    on_applied: AppliedHook | None = None

    @property
    def consumer_group(self) -> str:
        return self.group_id or f"clipforge.{self.name}"


async def _raw_decoder(msg: KafkaMessage) -> bytes:
    # Decoding is ours (consumer.py), so a poison record reaches the dead-letter path, not FastStream.
    return bytes(msg.body)


class ServiceRuntime:
    def __init__(self, definition: ServiceDefinition, settings: Settings | None = None) -> None:
        self.definition = definition
        self.settings = settings or get_settings()
        self.name = definition.name
        self.producer = f"{definition.name}@{__version__}"
        self.pool: asyncpg.Pool | None = None
        self.broker: KafkaBroker | None = None
        self.store = ObjectStore(self.settings)
        self.redis: Any = None
        self.relay: OutboxRelay | None = None
        self.workers: WorkerPool | None = None
        self.consumer: EventConsumer | None = None
        self._http: uvicorn.Server | None = None
        self._http_task: asyncio.Task[None] | None = None
        self._stopped = asyncio.Event()
        self.state: dict[str, Any] = {}

    # ------------------------------------------------------------------ wiring

    async def publish_raw(self, topic: str, key: bytes | None, value: bytes, headers: dict[str, str]) -> None:
        assert self.broker is not None
        await self.broker.publish(value, topic=topic, key=key, headers=headers)

    async def start(self) -> None:
        setup_logging(self.settings, self.name)
        setup_telemetry(self.settings, self.name)
        log.info("starting", version=__version__)
        self.pool = await open_service_database(
            self.settings, self.name, self.definition.package, database=self.definition.database
        )
        await ensure_topics(self.settings)
        await self.store.ensure_bucket()
        if self.definition.uses_redis:
            self.redis = create_redis(self.settings)
        self.broker = create_broker(self.settings, self.name)
        self.consumer = EventConsumer(
            service=self.name,
            group_id=self.definition.consumer_group,
            pool=self.pool,
            handlers=self.definition.handlers,
            dead_letter=self.publish_raw,
            producer=self.producer,
            max_attempts=self.settings.handler_max_retries,
            retry_base_seconds=self.settings.handler_retry_base_seconds,
            on_applied=self._after_applied,
            services=self,
            tenants=self.definition.tenants,
        )
        topics = sorted({spec_for(t, 1).topic for t in self.definition.handlers})
        if topics:
            consumer = self.consumer

            @self.broker.subscriber(
                *topics,
                group_id=self.definition.consumer_group,
                auto_offset_reset="earliest",
                ack_policy=AckPolicy.NACK_ON_ERROR,
                decoder=_raw_decoder,
                max_poll_interval_ms=10 * 60 * 1000,
            )
            async def on_record(body: bytes, msg: KafkaMessage) -> None:
                raw = msg.raw_message
                await consumer.handle(
                    Record(
                        topic=raw.topic,
                        partition=raw.partition,
                        offset=raw.offset,
                        key=raw.key,
                        value=body,
                        headers=dict(raw.headers or ()),
                    )
                )

        await self.broker.start()
        self.relay = OutboxRelay(
            self.pool, self.publish_raw, poll_seconds=self.settings.outbox_poll_seconds, service=self.name
        )
        self.relay.start()
        job_kinds = list(self.definition.job_kinds)
        if self.definition.job_kinds_factory is not None:
            job_kinds += list(self.definition.job_kinds_factory(self))
        if job_kinds:
            self.workers = WorkerPool(
                self.pool,
                job_kinds,
                service=self.name,
                concurrency=self.settings.worker_concurrency,
                lease_seconds=self.settings.job_lease_seconds,
                poll_seconds=self.settings.job_poll_seconds,
            )
            self.workers.start()
        for hook in self.definition.on_start:
            await hook(self)
        await self._start_http()
        log.info("started", consumer_group=self.definition.consumer_group, topics=topics)

    async def stop(self) -> None:
        log.info("stopping")
        if self.broker is not None:
            # Stop consuming first so no new work arrives while the rest shuts down.
            with contextlib.suppress(Exception):
                for sub in self.broker.subscribers:
                    await sub.stop()
        if self.workers is not None:
            await self.workers.stop()
        for hook in self.definition.on_stop:
            with contextlib.suppress(Exception):
                await hook(self)
        if self.relay is not None:
            await self.relay.stop()
        if self.broker is not None:
            with contextlib.suppress(Exception):
                await self.broker.stop()
        if self._http is not None:
            self._http.should_exit = True
            if self._http_task is not None:
                with contextlib.suppress(Exception):
                    await asyncio.wait_for(self._http_task, 5)
        if self.redis is not None:
            await self.redis.aclose()
        if self.pool is not None:
            await self.pool.close()
        log.info("stopped")
        self._stopped.set()

    def progress(
        self, cause: Envelope, stage: str, *, clip_id: str | None = None, span: tuple[float, float] = (0.0, 100.0)
    ) -> ProgressReporter:
        """A throttled, thread-safe reporter of ``stage`` progress for the video of ``cause``."""
        return ProgressReporter(self.publish_raw, cause, stage, producer=self.producer, clip_id=clip_id, span=span)

    async def _after_applied(self, envelope: Envelope, emitted: list[Envelope]) -> None:
        self.wake_workers()  # the handler may have enqueued a job in the transaction just committed
        if self.definition.on_applied is not None:
            await self.definition.on_applied(envelope, emitted)

    def wake_workers(self) -> None:
        """Let idle workers claim a job just enqueued instead of waiting for their next poll."""
        if self.workers is not None:
            self.workers.wake.set()

    # ------------------------------------------------------------------ health

    async def readiness(self) -> dict[str, dict[str, Any]]:
        checks: dict[str, Callable[[], Awaitable[Any]]] = {
            "postgres": self._check_postgres,
            "kafka": self._check_kafka,
            "s3": self.store.ping,
        }
        if self.redis is not None:
            checks["redis"] = self.redis.ping
        results: dict[str, dict[str, Any]] = {}
        for name, check in checks.items():
            try:
                await asyncio.wait_for(check(), 3)
                results[name] = {"ok": True}
            except Exception as exc:
                results[name] = {"ok": False, "error": f"{type(exc).__name__}: {exc}"[:300]}
        return results

    async def _check_postgres(self) -> None:
        assert self.pool is not None
        async with self.pool.acquire() as conn:
            await conn.fetchval("SELECT 1")

    async def _check_kafka(self) -> None:
        assert self.broker is not None
        if not await self.broker.ping(timeout=2):
            raise ConnectionError("Kafka did not answer")

    def health_app(self) -> FastAPI:
        app = self.definition.http_app or FastAPI(title=f"clipforge-{self.name}")
        runtime = self

        @app.get("/healthz", include_in_schema=False)
        async def healthz() -> dict[str, str]:
            return {"status": "ok", "service": runtime.name}

        @app.get("/readyz", include_in_schema=False)
        async def readyz() -> JSONResponse:
            checks = await runtime.readiness()
            ready = all(c["ok"] for c in checks.values())
            return JSONResponse({"ready": ready, "checks": checks}, status_code=200 if ready else 503)

        @app.get("/metrics", include_in_schema=False)
        async def metrics() -> Response:
            return Response(generate_latest(), media_type=CONTENT_TYPE_LATEST)

        app.state.runtime = runtime
        return app

    async def _start_http(self) -> None:
        config = uvicorn.Config(
            self.health_app(),
            host=self.settings.http_host,
            port=self.settings.service_port(self.name),
            log_level="warning",
            lifespan="off",
            access_log=False,
        )
        self._http = uvicorn.Server(config)
        # The runtime owns SIGTERM/SIGINT; uvicorn would otherwise swallow them and re-raise them
        # after its own shutdown, killing the process before in-flight work is released.
        self._http.capture_signals = contextlib.nullcontext  # type: ignore[method-assign]
        self._http_task = asyncio.create_task(self._http.serve(), name="http")

    # ------------------------------------------------------------------ process

    async def run_until_signalled(self) -> None:
        loop = asyncio.get_running_loop()
        stop = asyncio.Event()
        await self.start()
        # Installed after start-up: libraries started above may set their own handlers.
        for sig in (signal.SIGTERM, signal.SIGINT):
            loop.add_signal_handler(sig, stop.set)
        await stop.wait()
        await self.stop()


def run_service(definition: ServiceDefinition) -> None:
    """Entry point for ``python -m clipforge_<name>`` and ``clipforge service <name>``."""
    asyncio.run(ServiceRuntime(definition).run_until_signalled())
