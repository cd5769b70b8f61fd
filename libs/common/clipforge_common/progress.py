"""Live progress of long work, published straight to `pipeline.progress` (ephemeral, not a
source of truth, so it skips the outbox) and throttled so a chatty ffmpeg does not flood Kafka."""

from __future__ import annotations

import asyncio
import contextlib
import time
from collections.abc import Awaitable, Callable

import structlog

from clipforge_common.envelope import Envelope
from clipforge_common.events import PipelineProgress, spec_for
from clipforge_common.outbox import new_event

log = structlog.get_logger(__name__)

Publish = Callable[[str, bytes | None, bytes, dict[str, str]], Awaitable[None]]
PROGRESS_TOPIC = spec_for("pipeline.progress", 1).topic


class ProgressReporter:
    """Call with a fraction 0..1 from any thread; publishes at most every ``min_interval`` seconds
    (and always 0 % and 100 %)."""

    def __init__(
        self,
        publish: Publish,
        cause: Envelope,
        stage: str,
        *,
        producer: str,
        loop: asyncio.AbstractEventLoop | None = None,
        min_interval: float = 0.5,
        clip_id: str | None = None,
        span: tuple[float, float] = (0.0, 100.0),
    ) -> None:
        self.publish = publish
        self.cause = cause
        self.stage = stage
        self.producer = producer
        self.loop = loop or asyncio.get_running_loop()
        self.min_interval = min_interval
        self.clip_id = clip_id
        self.span = span
        self._last_sent = 0.0
        self._last_percent = -1.0
        self._pending: set[asyncio.Future[None]] = set()
        # Each report is its own task; the lock (FIFO) keeps them in the order they were reported.
        self._order = asyncio.Lock()

    def __call__(self, fraction: float, message: str = "") -> None:
        lo, hi = self.span
        percent = round(lo + (hi - lo) * min(max(fraction, 0.0), 1.0), 1)
        now = time.monotonic()
        final = percent >= hi
        if not final and (percent <= self._last_percent or now - self._last_sent < self.min_interval):
            return
        self._last_sent, self._last_percent = now, percent
        event = new_event(
            "pipeline.progress",
            PipelineProgress(stage=self.stage, percent=percent, message=message, clip_id=self.clip_id),
            producer=self.producer,
            tenant_id=self.cause.tenant_id,
            video_id=self.cause.video_id,
            correlation_id=self.cause.correlation_id,
            causation_id=self.cause.event_id,
        )
        coro = self._send(event)
        try:
            running = asyncio.get_running_loop()
        except RuntimeError:
            running = None
        if running is self.loop:
            task = self.loop.create_task(coro)
            self._pending.add(task)
            task.add_done_callback(self._pending.discard)
        else:  # called from a worker thread (ffmpeg or ASR progress callbacks)
            future = asyncio.run_coroutine_threadsafe(coro, self.loop)
            future.add_done_callback(lambda f: f.exception())

    async def _send(self, event: Envelope) -> None:
        async with self._order:
            try:
                await self.publish(PROGRESS_TOPIC, event.video_id.encode(), event.to_bytes(), event.headers())
            except Exception as exc:  # progress is best effort: never fail the work because of it
                log.warning("progress not published", error=str(exc))

    async def flush(self) -> None:
        if self._pending:
            with contextlib.suppress(Exception):
                await asyncio.gather(*list(self._pending))
