"""The transactional outbox and its relay.

Producers write events into ``outbox`` in the transaction that changes their state; the relay
publishes unsent rows in id order (idempotent producer, acks=all) and marks them sent. A crash
between publish and mark re-publishes the same event_id, which consumers drop through the inbox.
One relay per database holds an advisory lock, so per-video order is kept across instances.
"""

from __future__ import annotations

import asyncio
import contextlib
import json
from collections.abc import Awaitable, Callable
from typing import Any

import asyncpg
import structlog
from pydantic import BaseModel

from clipforge_common.envelope import Envelope
from clipforge_common.events import spec_for
from clipforge_common.metrics import OUTBOX_PENDING, OUTBOX_PUBLISHED

log = structlog.get_logger(__name__)

RELAY_LOCK = 72_310_002
NOTIFY_CHANNEL = "clipforge_outbox"

Publisher = Callable[[str, bytes, bytes, dict[str, str]], Awaitable[None]]


async def add_to_outbox(conn: asyncpg.Connection, envelope: Envelope, topic: str | None = None) -> None:
    """Queue an event for publication; call inside the transaction of the state change."""
    topic = topic or spec_for(envelope.event_type, envelope.event_version).topic
    await conn.execute(
        "INSERT INTO outbox (event_id, topic, key, headers, body) VALUES ($1, $2, $3, $4, $5) "
        "ON CONFLICT (event_id) DO NOTHING",
        envelope.event_id,
        topic,
        envelope.video_id,
        envelope.headers(),
        envelope.to_bytes(),
    )
    await conn.execute("SELECT pg_notify($1, '')", NOTIFY_CHANNEL)


def new_event(
    event_type: str,
    data: BaseModel | dict[str, Any],
    *,
    producer: str,
    tenant_id: str,
    video_id: str,
    correlation_id: str,
    causation_id: str | None = None,
    version: int = 1,
) -> Envelope:
    spec = spec_for(event_type, version)
    payload = data.model_dump(mode="json") if isinstance(data, BaseModel) else dict(data)
    spec.model.model_validate(payload)  # never queue a payload the contract rejects
    return Envelope(
        event_type=event_type,
        event_version=version,
        producer=producer,
        tenant_id=tenant_id,
        video_id=video_id,
        correlation_id=correlation_id,
        causation_id=causation_id,
        data=payload,
    )


class OutboxRelay:
    def __init__(
        self,
        pool: asyncpg.Pool,
        publish: Publisher,
        *,
        poll_seconds: float = 0.2,
        batch: int = 200,
        service: str = "",
    ) -> None:
        self.pool = pool
        self.publish = publish
        self.poll_seconds = poll_seconds
        self.batch = batch
        self.service = service
        self._wake = asyncio.Event()
        self._stopping = False
        self._task: asyncio.Task[None] | None = None

    async def relay_once(self, conn: asyncpg.Connection) -> int:
        """Publish one batch of unsent rows in order; returns how many were sent."""
        rows = await conn.fetch(
            "SELECT id, topic, key, headers, body FROM outbox WHERE sent_at IS NULL ORDER BY id LIMIT $1",
            self.batch,
        )
        for row in rows:
            headers = row["headers"]
            if isinstance(headers, str):
                headers = json.loads(headers)
            await self.publish(row["topic"], row["key"].encode(), bytes(row["body"]), headers)
            await conn.execute("UPDATE outbox SET sent_at = now() WHERE id = $1", row["id"])
            OUTBOX_PUBLISHED.labels(self.service).inc()
        pending = await conn.fetchval("SELECT count(*) FROM outbox WHERE sent_at IS NULL")
        OUTBOX_PENDING.labels(self.service).set(pending)
        return len(rows)

    async def run(self) -> None:
        while not self._stopping:
            try:
                async with self.pool.acquire() as conn:
                    if not await conn.fetchval("SELECT pg_try_advisory_lock($1)", RELAY_LOCK):
                        await self._sleep(1.0)  # another instance is the relay
                        continue
                    try:
                        await conn.add_listener(NOTIFY_CHANNEL, self._on_notify)
                        while not self._stopping:
                            sent = await self.relay_once(conn)
                            if sent < self.batch:
                                await self._sleep(self.poll_seconds)
                    finally:
                        with contextlib.suppress(Exception):
                            await conn.remove_listener(NOTIFY_CHANNEL, self._on_notify)
                        with contextlib.suppress(Exception):
                            await conn.execute("SELECT pg_advisory_unlock($1)", RELAY_LOCK)
            except asyncio.CancelledError:
                raise
            except Exception as exc:  # broker or database hiccup: back off and go on
                log.warning("outbox relay error", error=str(exc), error_type=type(exc).__name__)
                await self._sleep(1.0)

    def _on_notify(self, *_args: Any) -> None:
        self._wake.set()

    async def _sleep(self, seconds: float) -> None:
        with contextlib.suppress(TimeoutError):
            await asyncio.wait_for(self._wake.wait(), seconds)
        self._wake.clear()

    def start(self) -> asyncio.Task[None]:
        self._task = asyncio.create_task(self.run(), name="outbox-relay")
        return self._task

    async def stop(self) -> None:
        self._stopping = True
        self._wake.set()
        if self._task is not None:
            with contextlib.suppress(asyncio.CancelledError, Exception):
                await asyncio.wait_for(self._task, 10)
