"""The job helpers every worker uses: retry-or-fail and the cancellable worker thread."""

from __future__ import annotations

import asyncio
import threading
import time
import uuid
from collections.abc import Callable

import pytest
from clipforge_common.jobs import Job, JobFailed, TransientFailure, cancellable_thread, retry_or_fail


def _job(attempts: int, max_attempts: int) -> Job:
    return Job(uuid.uuid4(), "kind", "key", "video", {}, attempts, max_attempts, None)


def test_retry_or_fail_reports_the_reason_on_the_last_attempt() -> None:
    assert isinstance(retry_or_fail(_job(1, 2), "download_failed", "later"), TransientFailure)
    failure = retry_or_fail(_job(2, 2), "download_failed", "later")
    assert isinstance(failure, JobFailed) and failure.reason_code == "download_failed"


async def test_cancelled_job_stops_its_thread_at_the_next_progress_report() -> None:
    started, finished = threading.Event(), threading.Event()
    reports: list[float] = []

    def work(progress: Callable[[float], None]) -> int:
        try:
            for i in range(1, 1001):
                started.set()
                progress(i / 1000)
                time.sleep(0.01)
            return 1000
        finally:
            finished.set()

    task = asyncio.create_task(cancellable_thread(work, reports.append))
    await asyncio.to_thread(started.wait, 10)
    task.cancel()
    with pytest.raises(asyncio.CancelledError):
        await task
    assert await asyncio.to_thread(finished.wait, 10), "the thread ended"
    assert len(reports) < 1000, "it stopped early instead of running to the end"

    assert await cancellable_thread(lambda progress: progress(1.0) or "done", reports.append) == "done"
