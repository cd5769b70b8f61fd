"""Harness: the ingest and transcribe services as real processes on the real stack, isolated from
concurrent runs.

Each test session runs its own instances: unique consumer groups (primed at the end of the topics, so
history is not replayed), unique databases (so no other worker claims our jobs) and a unique tenant
they are restricted to (so they ignore everybody else's events, and the instances of different test
modules ignore each other's). One session-wide Kafka reader collects every answer by video id.
"""

from __future__ import annotations

import asyncio
import contextlib
import os
import signal
import socket
import subprocess
import sys
import uuid
from collections import defaultdict
from collections.abc import Awaitable, Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import asyncpg
import httpx
from aiokafka import AIOKafkaConsumer, AIOKafkaProducer, TopicPartition
from aiokafka.admin import AIOKafkaAdminClient
from aiokafka.structs import OffsetAndMetadata
from clipforge_common.envelope import Envelope
from clipforge_common.events import IngestRequested, SourceRef, spec_for
from clipforge_common.outbox import new_event
from clipforge_common.settings import Settings
from clipforge_common.storage import ObjectStore, transcript_key, video_source_key

WATCHED = (
    "ingest.requested",
    "video.ingested",
    "video.ingest_failed",
    "transcript.completed",
    "transcript.failed",
    "video.deleted",
    "pipeline.progress",
)
# Hosts the session's ingest resolves without DNS: one public-looking name that lands on loopback (must
# be refused), one on 127.0.0.2 (the only address the test configuration opens, to serve media).
LOOPBACK_NAME = "cdn.example-videos.com"
MEDIA_NAME = "media.example-cdn.com"
MEDIA_IP = "127.0.0.2"


def free_port(host: str = "127.0.0.1") -> int:
    with socket.socket() as s:
        s.bind((host, 0))
        return int(s.getsockname()[1])


async def topic_partitions(settings: Settings, topics: list[str]) -> list[TopicPartition]:
    admin = AIOKafkaAdminClient(bootstrap_servers=settings.kafka_bootstrap)
    await admin.start()
    try:
        described = await admin.describe_topics(topics)
    finally:
        await admin.close()
    return [TopicPartition(t["topic"], p["partition"]) for t in described for p in t["partitions"]]


async def prime_group(settings: Settings, group: str, event_types: list[str]) -> None:
    """Commit the current end of the topics for ``group``, so a new service instance starts there
    instead of replaying the whole (kept-forever) history."""
    tps = await topic_partitions(settings, [spec_for(t, 1).topic for t in event_types])
    consumer = AIOKafkaConsumer(bootstrap_servers=settings.kafka_bootstrap, group_id=group, enable_auto_commit=False)
    await consumer.start()
    try:
        consumer.assign(tps)
        ends = await consumer.end_offsets(tps)
        await consumer.commit({tp: OffsetAndMetadata(offset, "") for tp, offset in ends.items()})
    finally:
        await consumer.stop()


@dataclass
class ServiceProcess:
    """``python -m clipforge_<name>`` with its own port, group, database and tenant."""

    name: str
    env: dict[str, str]
    port: int
    log_path: Path
    database: str
    group: str
    proc: subprocess.Popen[bytes] | None = None

    @classmethod
    def create(cls, name: str, tenant: str, log_dir: Path, **extra: str) -> ServiceProcess:
        suffix = uuid.uuid4().hex[:10]
        prefix = f"CLIPFORGE_{name.upper()}_"
        port = free_port()
        database = f"clipforge_{name}_t{suffix}"
        group = f"clipforge.{name}.test-{suffix}"
        env = dict(os.environ)
        env.update(
            {
                f"{prefix}PORT": str(port),
                f"{prefix}GROUP_ID": group,
                f"{prefix}DATABASE": database,
                f"{prefix}TENANTS": tenant,
                "CLIPFORGE_LOG_JSON": "true",
                "PYTHONUNBUFFERED": "1",
            }
        )
        env.update(extra)
        return cls(name, env, port, log_dir / f"{name}-{suffix}.log", database, group)

    @property
    def base_url(self) -> str:
        return f"http://127.0.0.1:{self.port}"

    def start(self) -> None:
        with self.log_path.open("ab") as log:
            self.proc = subprocess.Popen(
                [sys.executable, "-m", f"clipforge_{self.name}"], env=self.env, stdout=log, stderr=subprocess.STDOUT
            )

    async def wait_ready(self, timeout: float = 120.0) -> None:
        loop = asyncio.get_running_loop()
        deadline = loop.time() + timeout
        async with httpx.AsyncClient() as client:
            while loop.time() < deadline:
                assert self.proc is not None and self.proc.poll() is None, f"{self.name} exited:\n{self.log_tail()}"
                with contextlib.suppress(httpx.HTTPError):
                    if (await client.get(self.base_url + "/readyz", timeout=2)).status_code == 200:
                        return
                await asyncio.sleep(0.3)
        raise AssertionError(f"{self.name} not ready:\n{self.log_tail()}")

    def stop(self) -> int | None:
        if self.proc is None or self.proc.poll() is not None:
            return None if self.proc is None else self.proc.returncode
        self.proc.send_signal(signal.SIGTERM)
        try:
            return self.proc.wait(timeout=60)
        except subprocess.TimeoutExpired:
            self.proc.kill()
            return self.proc.wait(timeout=10)

    def kill(self) -> None:
        assert self.proc is not None
        self.proc.send_signal(signal.SIGKILL)
        self.proc.wait(timeout=10)

    def log_tail(self, chars: int = 4000) -> str:
        return self.log_path.read_text(errors="replace")[-chars:] if self.log_path.exists() else ""

    async def pool(self, settings: Settings) -> asyncpg.Pool:
        from clipforge_common.db import create_pool

        return await create_pool(settings, self.database)


class EventLog:
    """Every record of the watched topics since the session started, by video id."""

    def __init__(self, settings: Settings) -> None:
        self.settings = settings
        self.by_video: dict[str, list[Envelope]] = defaultdict(list)
        self._consumer: AIOKafkaConsumer | None = None
        self._task: asyncio.Task[None] | None = None
        self._new = asyncio.Event()
        # Next offset to read per partition (what has been consumed so far).
        self._next: dict[TopicPartition, int] = {}

    async def start(self) -> None:
        tps = await topic_partitions(self.settings, [spec_for(t, 1).topic for t in WATCHED])
        self._consumer = AIOKafkaConsumer(bootstrap_servers=self.settings.kafka_bootstrap, enable_auto_commit=False)
        await self._consumer.start()
        self._consumer.assign(tps)
        await self._consumer.seek_to_end(*tps)
        for tp in tps:  # resolve the positions now, before anything is published
            self._next[tp] = await self._consumer.position(tp)
        self._task = asyncio.create_task(self._run())

    async def _run(self) -> None:
        assert self._consumer is not None
        while True:
            batch = await self._consumer.getmany(timeout_ms=200)
            for tp, records in batch.items():
                for record in records:
                    self._next[tp] = record.offset + 1
                    with contextlib.suppress(Exception):
                        envelope = Envelope.from_bytes(record.value)
                        self.by_video[envelope.video_id].append(envelope)
                        self._new.set()

    async def stop(self) -> None:
        if self._task is not None:
            self._task.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await self._task
        if self._consumer is not None:
            await self._consumer.stop()

    async def caught_up(self, event_type: str, timeout: float = 60.0) -> None:
        """Wait until everything on the event type's topic as of now has been read."""
        assert self._consumer is not None
        topic = spec_for(event_type, 1).topic
        tps = [tp for tp in self._next if tp.topic == topic]
        ends = await self._consumer.end_offsets(tps)
        loop = asyncio.get_running_loop()
        deadline = loop.time() + timeout
        while any(self._next[tp] < end for tp, end in ends.items()):
            assert loop.time() < deadline, "event log fell behind"
            await asyncio.sleep(0.1)

    def of(self, video_id: str, *event_types: str) -> list[Envelope]:
        return [e for e in self.by_video.get(video_id, []) if not event_types or e.event_type in event_types]

    async def wait_for(self, video_id: str, *event_types: str, timeout: float = 240.0) -> Envelope:
        """The first event of one of ``event_types`` for the video (a guard against hanging, not a limit)."""
        loop = asyncio.get_running_loop()
        deadline = loop.time() + timeout
        while True:
            found = self.of(video_id, *event_types)
            if found:
                return found[0]
            remaining = deadline - loop.time()
            assert remaining > 0, f"no {event_types} for {video_id}; saw {[e.event_type for e in self.of(video_id)]}"
            self._new.clear()
            with contextlib.suppress(TimeoutError):
                await asyncio.wait_for(self._new.wait(), min(remaining, 1.0))


@dataclass
class AsrStack:
    """The session's services, its tenant and helpers to drive them through Kafka and S3."""

    settings: Settings
    store: ObjectStore
    events: EventLog
    producer: AIOKafkaProducer
    tenant: str
    project: str
    ingest: ServiceProcess | None = None
    transcribe: ServiceProcess | None = None
    videos: list[str] = field(default_factory=list)

    def new_video(self) -> str:
        video_id = f"vid-{uuid.uuid4().hex[:16]}"
        self.videos.append(video_id)
        return video_id

    async def publish(self, event_type: str, video_id: str, data: Any, *, tenant: str | None = None) -> Envelope:
        envelope = new_event(
            event_type,
            data,
            producer="tests@0",
            tenant_id=tenant or self.tenant,
            video_id=video_id,
            correlation_id=str(uuid.uuid4()),
        )
        await self.producer.send_and_wait(
            spec_for(event_type, 1).topic,
            envelope.to_bytes(),
            key=video_id.encode(),
            headers=[(k, v.encode()) for k, v in envelope.headers().items()],
        )
        return envelope

    async def ingest_upload(
        self, path: Path, *, ext: str | None = None, video_id: str | None = None, project: str | None = None
    ) -> str:
        """Put ``path`` where the gateway puts uploads and ask for its ingestion; returns the video id."""
        video_id = video_id or self.new_video()
        key = video_source_key(video_id, ext or path.suffix)
        await self.store.upload_file(path, key)
        request = IngestRequested(
            project_id=project or self.project, source=SourceRef(kind="upload", key=key, filename=path.name)
        )
        await self.publish("ingest.requested", video_id, request)
        return video_id

    async def ingest_url(self, url: str, *, project: str | None = None) -> str:
        video_id = self.new_video()
        request = IngestRequested(project_id=project or self.project, source=SourceRef(kind="url", url=url))
        await self.publish("ingest.requested", video_id, request)
        return video_id

    async def eventually(self, probe: Callable[[], Awaitable[Any]], expected: Any, *, timeout: float = 120.0) -> None:
        """Poll ``probe`` until it returns ``expected`` (a guard against hanging, not a time limit)."""
        loop = asyncio.get_running_loop()
        deadline = loop.time() + timeout
        while (value := await probe()) != expected:
            assert loop.time() < deadline, f"still {value!r}, expected {expected!r}"
            await asyncio.sleep(0.3)

    async def keys_of(self, video_id: str) -> list[str]:
        keys = await self.store.list_keys(f"videos/{video_id}/")
        if await self.store.exists(transcript_key(video_id)):
            keys.append(transcript_key(video_id))
        return sorted(keys)
