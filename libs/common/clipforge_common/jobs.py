"""Long work outside Kafka handlers: a jobs table, leases and a worker pool.

A handler only records a job row (in its inbox transaction) and returns. Workers claim jobs with
``FOR UPDATE SKIP LOCKED`` and a lease they keep extending while working; the result and its outbox
event are written in one transaction only if the lease is still theirs. A worker that dies stops
extending its lease, and the job is claimed again once the lease expires.
"""

from __future__ import annotations

import asyncio
import contextlib
import os
import socket
import threading
import uuid
from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from datetime import datetime
from typing import Any, TypeVar

import asyncpg
import structlog

from clipforge_common.envelope import Envelope
from clipforge_common.metrics import JOBS_FINISHED, JOBS_RUNNING

log = structlog.get_logger(__name__)
T = TypeVar("T")

# Jobs enqueued by a handler keep the envelope of the event that caused them under this payload key,
# so the worker can answer with events in the same correlation (see HandlerContext.enqueue_job).
CAUSE_KEY = "_cause"


@dataclass(frozen=True)
class Job:
    id: uuid.UUID
    kind: str
    dedupe_key: str
    video_id: str | None
    payload: dict[str, Any]
    attempts: int
    max_attempts: int
    lease_until: datetime | None

    @property
    def cause(self) -> Envelope:
        """The event that asked for this job."""
        raw = self.payload.get(CAUSE_KEY)
        if raw is None:
            raise LookupError(f"job {self.id} was not enqueued from an event")
        return Envelope.model_validate(raw)

    @classmethod
    def from_row(cls, row: asyncpg.Record) -> Job:
        return cls(
            id=row["id"],
            kind=row["kind"],
            dedupe_key=row["dedupe_key"],
            video_id=row["video_id"],
            payload=dict(row["payload"] or {}),
            attempts=row["attempts"],
            max_attempts=row["max_attempts"],
            lease_until=row["lease_until"],
        )


class JobFailed(Exception):
    """A permanent failure: do not retry; report ``reason_code`` to the user."""

    def __init__(self, reason_code: str, message: str) -> None:
        super().__init__(message)
        self.reason_code = reason_code
        self.message = message


class TransientFailure(Exception):
    """Worth another attempt (the worker pool retries with backoff)."""


def retry_or_fail(job: Job, reason_code: str, message: str) -> Exception:
    """A transient fault: retry while attempts remain, then report it with its own reason code."""
    if job.attempts < job.max_attempts:
        return TransientFailure(f"{reason_code}: {message}")
    return JobFailed(reason_code, message)


class WorkCancelled(Exception):
    """Raised inside a worker thread at its next progress report once its job was cancelled."""


async def cancellable_thread(work: Callable[[Callable[[float], None]], T], report: Callable[[float], None]) -> T:
    """Run ``work(progress)`` in a thread. A thread cannot be killed, so when the awaiting task is
    cancelled (shutdown releases the job) the thread stops at its next progress report, instead of
    running on for minutes and holding up the process exit."""
    stop = threading.Event()

    def progress(fraction: float) -> None:
        if stop.is_set():
            raise WorkCancelled
        report(fraction)

    try:
        return await asyncio.to_thread(work, progress)
    except asyncio.CancelledError:
        stop.set()
        raise


async def enqueue(
    conn: asyncpg.Connection,
    kind: str,
    dedupe_key: str,
    payload: dict[str, Any],
    *,
    video_id: str | None = None,
    max_attempts: int = 3,
) -> bool:
    """Record a job; False when a job with the same (kind, dedupe_key) already exists."""
    inserted = await conn.fetchval(
        """INSERT INTO jobs (id, kind, dedupe_key, video_id, payload, max_attempts)
           VALUES ($1, $2, $3, $4, $5, $6) ON CONFLICT (kind, dedupe_key) DO NOTHING RETURNING 1""",
        uuid.uuid4(),
        kind,
        dedupe_key,
        video_id,
        payload,
        max_attempts,
    )
    return inserted is not None


async def claim(conn: asyncpg.Connection, worker_id: str, kinds: list[str], lease_seconds: float) -> Job | None:
    """Lease the oldest claimable job: pending, or running with an expired lease (its worker died)."""
    row = await conn.fetchrow(
        """UPDATE jobs SET status = 'running', leased_by = $1, attempts = attempts + 1,
                  lease_until = now() + make_interval(secs => $3), updated_at = now()
           WHERE id = (
               SELECT id FROM jobs
               WHERE kind = ANY($2::text[]) AND available_at <= now()
                 AND (status = 'pending' OR (status = 'running' AND lease_until < now()))
               ORDER BY available_at, created_at
               FOR UPDATE SKIP LOCKED LIMIT 1)
           RETURNING *""",
        worker_id,
        kinds,
        lease_seconds,
    )
    return Job.from_row(row) if row else None


async def extend_lease(conn: asyncpg.Connection, job_id: uuid.UUID, worker_id: str, lease_seconds: float) -> bool:
    ok = await conn.fetchval(
        """UPDATE jobs SET lease_until = now() + make_interval(secs => $3), updated_at = now()
           WHERE id = $1 AND leased_by = $2 AND status = 'running' RETURNING 1""",
        job_id,
        worker_id,
        lease_seconds,
    )
    return ok is not None


async def mark_done(conn: asyncpg.Connection, job_id: uuid.UUID, worker_id: str, result: dict[str, Any]) -> bool:
    """Finish a job we still hold; False when the lease was lost (another worker owns it now)."""
    ok = await conn.fetchval(
        """UPDATE jobs SET status = 'done', result = $3, finished_at = now(), updated_at = now(),
                  lease_until = NULL
           WHERE id = $1 AND leased_by = $2 AND status = 'running' RETURNING 1""",
        job_id,
        worker_id,
        result,
    )
    return ok is not None


async def mark_failed(conn: asyncpg.Connection, job_id: uuid.UUID, worker_id: str, error: str) -> bool:
    ok = await conn.fetchval(
        """UPDATE jobs SET status = 'failed', last_error = $3, finished_at = now(), updated_at = now(),
                  lease_until = NULL
           WHERE id = $1 AND leased_by = $2 AND status = 'running' RETURNING 1""",
        job_id,
        worker_id,
        error,
    )
    return ok is not None


async def retry_later(conn: asyncpg.Connection, job_id: uuid.UUID, worker_id: str, error: str, delay: float) -> None:
    await conn.execute(
        """UPDATE jobs SET status = 'pending', last_error = $3, leased_by = NULL, lease_until = NULL,
                  available_at = now() + make_interval(secs => $4), updated_at = now()
           WHERE id = $1 AND leased_by = $2 AND status = 'running'""",
        job_id,
        worker_id,
        error,
        delay,
    )


async def release(conn: asyncpg.Connection, job_id: uuid.UUID, worker_id: str) -> None:
    """Give a job back untouched (graceful shutdown): it does not count as an attempt."""
    await conn.execute(
        """UPDATE jobs SET status = 'pending', leased_by = NULL, lease_until = NULL,
                  attempts = greatest(attempts - 1, 0), updated_at = now()
           WHERE id = $1 AND leased_by = $2 AND status = 'running'""",
        job_id,
        worker_id,
    )


RunFn = Callable[[Job], Awaitable[dict[str, Any]]]
CommitFn = Callable[[asyncpg.Connection, Job, dict[str, Any]], Awaitable[None]]
FailFn = Callable[[asyncpg.Connection, Job, str, str], Awaitable[None]]


@dataclass(frozen=True)
class JobKind:
    """How to run one kind of job: ``run`` does the work (off the event loop for CPU/ffmpeg),
    ``commit`` writes its state and outbox events, ``fail`` records a final failure event."""

    kind: str
    run: RunFn
    commit: CommitFn
    fail: FailFn


def default_worker_id() -> str:
    return f"{socket.gethostname()}:{os.getpid()}:{uuid.uuid4().hex[:8]}"


class WorkerPool:
    def __init__(
        self,
        pool: asyncpg.Pool,
        kinds: list[JobKind],
        *,
        service: str,
        concurrency: int = 1,
        lease_seconds: float = 60.0,
        poll_seconds: float = 0.5,
        retry_base_seconds: float = 2.0,
        worker_id: str | None = None,
    ) -> None:
        self.pool = pool
        self.kinds = {k.kind: k for k in kinds}
        self.service = service
        self.concurrency = concurrency
        self.lease_seconds = lease_seconds
        self.poll_seconds = poll_seconds
        self.retry_base_seconds = retry_base_seconds
        self.worker_id = worker_id or default_worker_id()
        self._stopping = asyncio.Event()
        self._tasks: list[asyncio.Task[None]] = []
        self._in_flight: dict[uuid.UUID, asyncio.Task[dict[str, Any]]] = {}
        self.wake = asyncio.Event()

    def start(self) -> None:
        for i in range(self.concurrency):
            self._tasks.append(asyncio.create_task(self._loop(), name=f"{self.service}-worker-{i}"))

    async def stop(self, grace_seconds: float = 20.0) -> None:
        """Stop claiming; let running jobs finish within the grace period, then release them."""
        self._stopping.set()
        self.wake.set()
        if self._in_flight:
            await asyncio.wait(list(self._in_flight.values()), timeout=grace_seconds)
        for job_id, task in list(self._in_flight.items()):
            if not task.done():
                task.cancel()
                with contextlib.suppress(Exception):
                    async with self.pool.acquire() as conn:
                        await release(conn, job_id, self.worker_id)
                log.info("job released on shutdown", job_id=str(job_id))
        for task in self._tasks:
            with contextlib.suppress(asyncio.CancelledError, Exception):
                await asyncio.wait_for(task, 10)

    async def _loop(self) -> None:
        while not self._stopping.is_set():
            try:
                async with self.pool.acquire() as conn:
                    job = await claim(conn, self.worker_id, list(self.kinds), self.lease_seconds)
                if job is None:
                    with contextlib.suppress(TimeoutError):
                        await asyncio.wait_for(self.wake.wait(), self.poll_seconds)
                    self.wake.clear()
                    continue
                await self._execute(job)
            except asyncio.CancelledError:
                raise
            except Exception as exc:
                log.warning("worker loop error", error=str(exc), error_type=type(exc).__name__)
                await asyncio.sleep(1.0)

    async def _heartbeat(self, job: Job) -> None:
        while True:
            await asyncio.sleep(self.lease_seconds / 3)
            with contextlib.suppress(Exception):
                async with self.pool.acquire() as conn:
                    if not await extend_lease(conn, job.id, self.worker_id, self.lease_seconds):
                        log.warning("job lease lost", job_id=str(job.id))
                        return

    async def _execute(self, job: Job) -> None:
        kind = self.kinds[job.kind]
        bound = structlog.contextvars.bound_contextvars(job_id=str(job.id), job_kind=job.kind, video_id=job.video_id)
        with bound:
            log.info("job started", attempt=job.attempts)
            JOBS_RUNNING.labels(self.service).inc()
            heartbeat = asyncio.create_task(self._heartbeat(job))
            work = asyncio.create_task(kind.run(job))
            self._in_flight[job.id] = work
            try:
                result = await work
            except asyncio.CancelledError:
                if self._stopping.is_set():
                    return  # released by stop()
                raise
            except JobFailed as failure:
                await self._finish_failed(kind, job, failure.reason_code, failure.message)
                return
            except Exception as exc:
                message = f"{type(exc).__name__}: {exc}"
                if job.attempts >= job.max_attempts:
                    await self._finish_failed(kind, job, "internal_error", message)
                else:
                    delay = self.retry_base_seconds * 2 ** (job.attempts - 1)
                    log.warning("job failed, will retry", error=message, retry_in=delay)
                    async with self.pool.acquire() as conn:
                        await retry_later(conn, job.id, self.worker_id, message, delay)
                    JOBS_FINISHED.labels(self.service, job.kind, "retry").inc()
                return
            finally:
                heartbeat.cancel()
                self._in_flight.pop(job.id, None)
                JOBS_RUNNING.labels(self.service).dec()
            async with self.pool.acquire() as conn, conn.transaction():
                if not await mark_done(conn, job.id, self.worker_id, result):
                    log.warning("job result dropped: lease lost to another worker")
                    return
                await kind.commit(conn, job, result)
            JOBS_FINISHED.labels(self.service, job.kind, "done").inc()
            log.info("job done")

    async def _finish_failed(self, kind: JobKind, job: Job, reason_code: str, message: str) -> None:
        async with self.pool.acquire() as conn, conn.transaction():
            if await mark_failed(conn, job.id, self.worker_id, f"{reason_code}: {message}"):
                await kind.fail(conn, job, reason_code, message)
        JOBS_FINISHED.labels(self.service, job.kind, "failed").inc()
        log.warning("job failed", reason_code=reason_code, error=message)
