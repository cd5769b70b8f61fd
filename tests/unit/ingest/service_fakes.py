"""In-memory stand-ins for the platform around a service's job kinds (object store, runtime, connection),
shared by the ingest and transcribe adapter tests."""

from __future__ import annotations

import json
import uuid
from collections.abc import AsyncIterator
from pathlib import Path
from typing import Any

from clipforge_common.envelope import Envelope
from clipforge_common.jobs import CAUSE_KEY, Job
from clipforge_common.outbox import new_event
from clipforge_common.storage import ObjectNotFound


class FakeStore:
    """ObjectStore's methods the workers use, over a dict."""

    bucket = "test"

    def __init__(self) -> None:
        self.objects: dict[str, bytes] = {}

    async def head(self, key: str) -> dict[str, Any] | None:
        return {"ContentLength": len(self.objects[key])} if key in self.objects else None

    async def exists(self, key: str) -> bool:
        return key in self.objects

    async def iter_bytes(
        self, key: str, byte_range: str | None = None, chunk: int = 256 * 1024
    ) -> AsyncIterator[bytes]:
        if key not in self.objects:
            raise ObjectNotFound(key)
        data = self.objects[key]
        for i in range(0, len(data), chunk):
            yield data[i : i + chunk]

    async def upload_file(self, path: Path, key: str, content_type: str | None = None) -> int:
        self.objects[key] = Path(path).read_bytes()
        return len(self.objects[key])

    async def download_file(self, key: str, path: Path) -> int:
        if key not in self.objects:
            raise ObjectNotFound(key)
        Path(path).write_bytes(self.objects[key])
        return len(self.objects[key])

    async def put_bytes(self, key: str, data: bytes, content_type: str | None = None) -> None:
        self.objects[key] = bytes(data)

    async def get_bytes(self, key: str) -> bytes:
        if key not in self.objects:
            raise ObjectNotFound(key)
        return self.objects[key]

    async def list_keys(self, prefix: str) -> list[str]:
        return sorted(k for k in self.objects if k.startswith(prefix))

    async def delete(self, key: str) -> None:
        self.objects.pop(key, None)

    async def delete_prefix(self, prefix: str) -> int:
        keys = await self.list_keys(prefix)
        for key in keys:
            del self.objects[key]
        return len(keys)


class Progress:
    """A ProgressReporter that records what it was told."""

    def __init__(self, log: list[tuple[str, float, str]], stage: str) -> None:
        self.log = log
        self.stage = stage

    def __call__(self, fraction: float, message: str = "") -> None:
        self.log.append((self.stage, fraction, message))

    async def flush(self) -> None:
        pass


class FakeRuntime:
    producer = "test@0"

    def __init__(self, store: FakeStore | None = None) -> None:
        self.store = store or FakeStore()
        self.pool: Any = None  # repository calls are monkeypatched in these tests
        self.progress_log: list[tuple[str, float, str]] = []

    def progress(self, cause: Envelope, stage: str, **_kwargs: Any) -> Progress:
        return Progress(self.progress_log, stage)

    def fractions(self, stage: str) -> list[float]:
        return [f for s, f, _ in self.progress_log if s == stage]


class FakeConn:
    """Records SQL; enough for repository writes and outbox inserts."""

    def __init__(self) -> None:
        self.executed: list[tuple[str, tuple[Any, ...]]] = []

    async def execute(self, sql: str, *args: Any) -> str:
        self.executed.append((" ".join(sql.split()), args))
        return "OK"

    def outbox(self) -> list[Envelope]:
        """Envelopes written to the outbox, in order."""
        return [Envelope.from_bytes(args[4]) for sql, args in self.executed if sql.startswith("INSERT INTO outbox")]


def make_job(
    event_type: str,
    data: Any,
    *,
    video_id: str = "vid-1",
    tenant_id: str = "tenant-1",
    attempts: int = 1,
    max_attempts: int = 3,
    kind: str = "job",
) -> Job:
    cause = new_event(
        event_type, data, producer="tests@0", tenant_id=tenant_id, video_id=video_id, correlation_id="corr-1"
    )
    return Job(
        id=uuid.uuid4(),
        kind=kind,
        dedupe_key=f"{video_id}:{cause.event_id}",
        video_id=video_id,
        payload={CAUSE_KEY: json.loads(cause.model_dump_json())},
        attempts=attempts,
        max_attempts=max_attempts,
        lease_until=None,
    )
