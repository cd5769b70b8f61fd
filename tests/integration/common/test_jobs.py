"""A job whose worker dies is claimed again after its lease expires and finishes once."""

from __future__ import annotations

import asyncio
import os
import signal
import subprocess
import sys
from pathlib import Path

from clipforge_common import jobs
from clipforge_common.jobs import JobFailed, JobKind, WorkerPool
from clipforge_common.outbox import add_to_outbox, new_event


async def _wait_for(predicate, timeout: float = 60.0) -> None:
    loop = asyncio.get_running_loop()
    deadline = loop.time() + timeout
    while not await predicate():
        assert loop.time() < deadline, "condition not reached"
        await asyncio.sleep(0.1)


async def test_job_of_a_killed_worker_is_reclaimed_after_lease_and_finished_once(test_pool, unique):
    async with test_pool.acquire() as conn:
        assert await jobs.enqueue(conn, "slow", f"job-{unique}", {"n": 1}, video_id=f"v-{unique}")
        assert not await jobs.enqueue(conn, "slow", f"job-{unique}", {"n": 1}, video_id=f"v-{unique}")
        database = await conn.fetchval("SELECT current_database()")

    proc = subprocess.Popen(
        [sys.executable, str(Path(__file__).with_name("job_worker_proc.py")), database, "doomed-worker"],
        env=dict(os.environ),
    )
    try:

        async def leased_by_doomed() -> bool:
            async with test_pool.acquire() as conn:
                row = await conn.fetchrow("SELECT status, leased_by FROM jobs WHERE dedupe_key=$1", f"job-{unique}")
                return row["status"] == "running" and row["leased_by"] == "doomed-worker"

        await _wait_for(leased_by_doomed)
        proc.send_signal(signal.SIGKILL)
        proc.wait(timeout=10)
    finally:
        if proc.poll() is None:
            proc.kill()

    commits: list[str] = []

    async def run(job):
        return {"answer": 42}

    async def commit(conn, job, result):
        commits.append(str(job.id))
        event = new_event(
            "pipeline.progress",
            {"stage": "test", "percent": 100},
            producer="test@0",
            tenant_id="t",
            video_id=job.video_id,
            correlation_id="c",
        )
        await add_to_outbox(conn, event)

    async def fail(conn, job, reason, message):
        raise AssertionError(message)

    survivor = WorkerPool(
        test_pool, [JobKind("slow", run, commit, fail)], service="test", lease_seconds=2, poll_seconds=0.1
    )
    survivor.start()
    try:

        async def done() -> bool:
            async with test_pool.acquire() as conn:
                return await conn.fetchval("SELECT status FROM jobs WHERE dedupe_key=$1", f"job-{unique}") == "done"

        await _wait_for(done)
    finally:
        await survivor.stop()

    async with test_pool.acquire() as conn:
        row = await conn.fetchrow("SELECT * FROM jobs WHERE dedupe_key=$1", f"job-{unique}")
        assert row["attempts"] == 2
        assert row["leased_by"] == survivor.worker_id
        assert row["result"] == {"answer": 42}
        assert row["lease_until"] is None
        assert await conn.fetchval("SELECT count(*) FROM outbox") == 1
        # The dead worker's late result (if it ever came back) is refused.
        assert not await jobs.mark_done(conn, row["id"], "doomed-worker", {"answer": 0})
    assert len(commits) == 1


async def test_failing_job_retries_with_backoff_then_reports_failure_once(test_pool, unique):
    async with test_pool.acquire() as conn:
        await jobs.enqueue(conn, "flaky", f"a-{unique}", {}, max_attempts=2)
        await jobs.enqueue(conn, "bad", f"b-{unique}", {}, max_attempts=5)
    failures: list[tuple[str, str]] = []
    calls = {"flaky": 0, "bad": 0}

    async def flaky(job):
        calls["flaky"] += 1
        raise ConnectionError("transient")

    async def bad(job):
        calls["bad"] += 1
        raise JobFailed("not_media", "the file is not a video")

    async def commit(conn, job, result):
        raise AssertionError("no job here succeeds")

    async def fail(conn, job, reason, message):
        failures.append((job.kind, reason))

    pool = WorkerPool(
        test_pool,
        [JobKind("flaky", flaky, commit, fail), JobKind("bad", bad, commit, fail)],
        service="test",
        poll_seconds=0.05,
        retry_base_seconds=0.1,
    )
    pool.start()
    try:

        async def both_failed() -> bool:
            async with test_pool.acquire() as conn:
                return await conn.fetchval("SELECT count(*) FROM jobs WHERE status='failed'") == 2

        await _wait_for(both_failed)
    finally:
        await pool.stop()
    assert calls == {"flaky": 2, "bad": 1}  # permanent failures are not retried
    assert sorted(failures) == [("bad", "not_media"), ("flaky", "internal_error")]


async def test_graceful_stop_releases_running_job_without_counting_an_attempt(test_pool, unique):
    async with test_pool.acquire() as conn:
        await jobs.enqueue(conn, "long", f"l-{unique}", {})
    started = asyncio.Event()

    async def run(job):
        started.set()
        await asyncio.sleep(3600)
        return {}

    async def noop(*_args):
        return None

    pool = WorkerPool(test_pool, [JobKind("long", run, noop, noop)], service="test", poll_seconds=0.05)
    pool.start()
    await asyncio.wait_for(started.wait(), 30)
    await pool.stop(grace_seconds=0.2)
    async with test_pool.acquire() as conn:
        row = await conn.fetchrow("SELECT status, attempts, leased_by FROM jobs WHERE dedupe_key=$1", f"l-{unique}")
    assert row["status"] == "pending"
    assert row["attempts"] == 0
    assert row["leased_by"] is None
