"""Applying consumed events effectively once, with bounded retries and dead letters.

Each record is parsed into an Envelope, upcast to the newest known version, validated against its
payload model and handed to the service's handler inside one database transaction that also
records the event in the inbox. A duplicate delivery is skipped. A transient error is retried with
exponential backoff; after the last attempt (or at once for records that can never succeed) the
record goes to ``<topic>.dlq`` with error headers and the partition moves on.
"""

from __future__ import annotations

import asyncio
import time
from collections.abc import Awaitable, Callable, Collection, Mapping
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Any

import asyncpg
import structlog
from pydantic import BaseModel, ValidationError

from clipforge_common import jobs
from clipforge_common.envelope import Envelope
from clipforge_common.events import UnknownEventError, parse_data
from clipforge_common.inbox import claim_event
from clipforge_common.metrics import (
    EVENTS_CONSUMED,
    EVENTS_DEAD_LETTERED,
    EVENTS_DUPLICATE,
    EVENTS_RETRIED,
    HANDLER_SECONDS,
)
from clipforge_common.outbox import add_to_outbox, new_event
from clipforge_common.upcasters import upcast

log = structlog.get_logger(__name__)

DLQ_HEADER_PREFIX = "cf-dlq-"


class PermanentError(Exception):
    """The record can never be applied (bad contract, impossible state): dead-letter it at once."""

    def __init__(self, reason: str, message: str) -> None:
        super().__init__(message)
        self.reason = reason


async def emit_answer(
    conn: asyncpg.Connection,
    cause: Envelope,
    event_type: str,
    data: BaseModel | dict[str, Any],
    *,
    producer: str,
    version: int = 1,
) -> Envelope:
    """Queue in the outbox an event caused by ``cause`` (same tenant, video and correlation)."""
    event = new_event(
        event_type,
        data,
        producer=producer,
        tenant_id=cause.tenant_id,
        video_id=cause.video_id,
        correlation_id=cause.correlation_id,
        causation_id=cause.event_id,
        version=version,
    )
    await add_to_outbox(conn, event)
    return event


@dataclass
class HandlerContext:
    conn: asyncpg.Connection
    envelope: Envelope
    payload: BaseModel
    producer: str
    # The ServiceRuntime the handler runs in (settings, object store, …); None in unit tests.
    services: Any = None
    emitted: list[Envelope] = field(default_factory=list)

    async def emit(self, event_type: str, data: BaseModel | dict[str, Any], version: int = 1) -> Envelope:
        """Queue an event caused by the one being handled (same video and correlation)."""
        event = await emit_answer(self.conn, self.envelope, event_type, data, producer=self.producer, version=version)
        self.emitted.append(event)
        return event

    async def enqueue_job(
        self, kind: str, dedupe_key: str, payload: dict[str, Any], max_attempts: int | None = None
    ) -> bool:
        """Record long work for the worker pool; the job keeps this event as its cause."""
        if max_attempts is None:
            max_attempts = self.services.settings.job_max_attempts if self.services is not None else 3
        return await jobs.enqueue(
            self.conn,
            kind,
            dedupe_key,
            {**payload, jobs.CAUSE_KEY: self.envelope.model_dump(mode="json")},
            video_id=self.envelope.video_id,
            max_attempts=max_attempts,
        )


Handler = Callable[[HandlerContext], Awaitable[None]]
DeadLetterPublisher = Callable[[str, bytes | None, bytes, dict[str, str]], Awaitable[None]]


@dataclass(frozen=True)
class Record:
    """What the consumer needs of a Kafka record (decoupled from the client library)."""

    topic: str
    partition: int
    offset: int
    key: bytes | None
    value: bytes
    headers: Mapping[str, bytes | str]


class EventConsumer:
    def __init__(
        self,
        *,
        service: str,
        group_id: str,
        pool: asyncpg.Pool,
        handlers: Mapping[str, Handler],
        dead_letter: DeadLetterPublisher,
        producer: str,
        max_attempts: int = 5,
        retry_base_seconds: float = 0.2,
        on_applied: Callable[[Envelope, list[Envelope]], Awaitable[None]] | None = None,
        services: Any = None,
        tenants: Collection[str] = (),
    ) -> None:
        self.service = service
        self.group_id = group_id
        self.pool = pool
        self.handlers = dict(handlers)
        self.dead_letter = dead_letter
        self.producer = producer
        self.max_attempts = max_attempts
        self.retry_base_seconds = retry_base_seconds
        self.on_applied = on_applied
        self.services = services
        # An instance dedicated to some tenants leaves everyone else's events alone (no inbox row,
        # no state); the default instance (no tenants) serves all.
        self.tenants = frozenset(tenants)

    async def handle(self, record: Record) -> str:
        """Apply one record; returns the outcome: applied, duplicate, ignored or dead_lettered."""
        try:
            envelope = Envelope.from_bytes(record.value)
        except (ValidationError, ValueError) as exc:
            await self._to_dlq(record, "unparseable", str(exc), attempts=1)
            return "dead_lettered"
        with structlog.contextvars.bound_contextvars(
            event_id=envelope.event_id,
            event_type=envelope.event_type,
            video_id=envelope.video_id,
            correlation_id=envelope.correlation_id,
        ):
            handler = self.handlers.get(envelope.event_type)
            if handler is None or (self.tenants and envelope.tenant_id not in self.tenants):
                return "ignored"
            try:
                envelope = upcast(envelope)
                payload = parse_data(envelope.event_type, envelope.event_version, envelope.data)
            except (UnknownEventError, LookupError) as exc:
                await self._to_dlq(record, "unknown_version", str(exc), attempts=1)
                return "dead_lettered"
            except ValidationError as exc:
                await self._to_dlq(record, "invalid_payload", str(exc), attempts=1)
                return "dead_lettered"
            return await self._apply_with_retries(record, envelope, payload, handler)

    async def _apply_with_retries(
        self, record: Record, envelope: Envelope, payload: BaseModel, handler: Handler
    ) -> str:
        for attempt in range(1, self.max_attempts + 1):
            started = time.perf_counter()
            try:
                async with self.pool.acquire() as conn, conn.transaction():
                    if not await claim_event(conn, self.group_id, envelope):
                        EVENTS_DUPLICATE.labels(self.service, envelope.event_type).inc()
                        log.info("duplicate event skipped")
                        return "duplicate"
                    ctx = HandlerContext(
                        conn=conn, envelope=envelope, payload=payload, producer=self.producer, services=self.services
                    )
                    await handler(ctx)
                EVENTS_CONSUMED.labels(self.service, envelope.event_type).inc()
                HANDLER_SECONDS.labels(self.service, envelope.event_type).observe(time.perf_counter() - started)
                if self.on_applied is not None:
                    await self.on_applied(envelope, ctx.emitted)
                return "applied"
            except PermanentError as exc:
                await self._to_dlq(record, exc.reason, str(exc), attempts=attempt)
                return "dead_lettered"
            except asyncio.CancelledError:
                raise
            except Exception as exc:
                if attempt >= self.max_attempts:
                    await self._to_dlq(record, "handler_error", f"{type(exc).__name__}: {exc}", attempts=attempt)
                    return "dead_lettered"
                delay = self.retry_base_seconds * 2 ** (attempt - 1)
                EVENTS_RETRIED.labels(self.service).inc()
                log.warning("handler failed, retrying", attempt=attempt, retry_in=delay, error=str(exc))
                await asyncio.sleep(delay)
        return "dead_lettered"  # pragma: no cover - the loop always returns

    async def _to_dlq(self, record: Record, reason: str, message: str, *, attempts: int) -> None:
        headers = {
            k: (v.decode(errors="replace") if isinstance(v, bytes) else str(v)) for k, v in record.headers.items()
        }
        headers.update(
            {
                f"{DLQ_HEADER_PREFIX}reason": reason,
                f"{DLQ_HEADER_PREFIX}error": message[:2000],
                f"{DLQ_HEADER_PREFIX}original-topic": record.topic,
                f"{DLQ_HEADER_PREFIX}original-partition": str(record.partition),
                f"{DLQ_HEADER_PREFIX}original-offset": str(record.offset),
                f"{DLQ_HEADER_PREFIX}consumer-group": self.group_id,
                f"{DLQ_HEADER_PREFIX}attempts": str(attempts),
                f"{DLQ_HEADER_PREFIX}failed-at": datetime.now(UTC).isoformat(),
            }
        )
        await self.dead_letter(record.topic + ".dlq", record.key, record.value, headers)
        EVENTS_DEAD_LETTERED.labels(self.service, record.topic).inc()
        log.error("record dead-lettered", reason=reason, error=message[:500], topic=record.topic, offset=record.offset)
