"""Harness: the ingest and transcribe services as real processes on the real stack, isolated from
concurrent runs.

The processes are :class:`~tests.integration.common.clip_services.ServiceProcess` instances (unique
consumer group started at the end of the topics, unique database), restricted to the session's tenant,
so they ignore everybody else's events and the instances of different test modules ignore each other's.
One session-wide Kafka reader collects every answer by video id.
"""

from __future__ import annotations

import asyncio
import contextlib
import uuid
from collections import defaultdict
from collections.abc import Awaitable, Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from aiokafka import AIOKafkaConsumer, AIOKafkaProducer, TopicPartition
from clipforge_common.envelope import Envelope
from clipforge_common.events import IngestRequested, SourceRef
from clipforge_common.settings import Settings
from clipforge_common.storage import ObjectStore, transcript_key, video_source_key

from tests.integration.common.clip_services import ServiceProcess, event, topic, topic_partitions

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
        self._consumer = AIOKafkaConsumer(bootstrap_servers=self.settings.kafka_bootstrap, enable_auto_commit=False)
        await self._consumer.start()
        tps = await topic_partitions(self._consumer, WATCHED)
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
        tps = [tp for tp in self._next if tp.topic == topic(event_type)]
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
        envelope = event(event_type, data, video_id=video_id, tenant_id=tenant or self.tenant)
        await self.producer.send_and_wait(
            topic(event_type),
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
