"""A worker process for the lease test: claims a job and works on it until it is killed."""

from __future__ import annotations

import asyncio
import sys

from clipforge_common.db import create_pool
from clipforge_common.jobs import JobKind, WorkerPool
from clipforge_common.settings import get_settings


async def main(database: str, worker_id: str) -> None:
    pool = await create_pool(get_settings(), database)

    async def run(job):
        await asyncio.sleep(3600)  # long work; the test kills us in the middle
        return {}

    async def never(*_args):
        raise AssertionError("a killed worker must not commit")

    workers = WorkerPool(
        pool, [JobKind("slow", run, never, never)], service="test", lease_seconds=2, poll_seconds=0.1,
        worker_id=worker_id,
    )  # fmt: skip
    workers.start()
    await asyncio.Event().wait()


if __name__ == "__main__":
    asyncio.run(main(sys.argv[1], sys.argv[2]))
