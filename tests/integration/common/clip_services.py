"""Driving the rank and render services as real processes through Kafka, S3 and PostgreSQL in tests.

Each service process gets its own consumer group and database, so concurrent test runs never share
records or jobs, and its group starts at the current end of every topic (history from earlier runs
is not replayed). Tests publish the upstream events themselves (``video.ingested``,
``transcript.completed``, ``clips.ranked``, …) with synthesized media, and watch the answers with an
:class:`EventLog` positioned at the end of the topics before anything is published.
"""

from __future__ import annotations

import asyncio
import contextlib
import os
import signal
import socket
import subprocess
import sys
import time
import uuid
from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import asyncpg
import httpx
import psutil
from aiokafka import AIOKafkaConsumer, AIOKafkaProducer, TopicPartition
from aiokafka.structs import OffsetAndMetadata
from clipforge_common.db import drop_database
from clipforge_common.envelope import Envelope
from clipforge_common.events import (
    TranscriptCompleted,
    VideoIngested,
    spec_for,
)
from clipforge_common.ffmpeg import ffprobe, run_ffmpeg
from clipforge_common.outbox import new_event
from clipforge_common.sample_media import SpeechScript, cached, cached_talk
from clipforge_common.settings import Settings
from clipforge_common.storage import ObjectStore, transcript_key, video_audio_key, video_source_key
from clipforge_common.topics import ensure_topics
from clipforge_common.transcript import Transcript
from pydantic import BaseModel

TEST_PRODUCER = "tests@0"


def topic(event_type: str) -> str:
    return spec_for(event_type, 1).topic


# ---------------------------------------------------------------------------------------- events


async def publish(settings: Settings, *envelopes: Envelope) -> None:
    """Publish envelopes keyed by video id with the envelope mirrored in headers (as services do)."""
    producer = AIOKafkaProducer(bootstrap_servers=settings.kafka_bootstrap, acks="all", enable_idempotence=True)
    await producer.start()
    try:
        for env in envelopes:
            headers = [(k, v.encode()) for k, v in env.headers().items()]
            await producer.send_and_wait(
                topic(env.event_type), env.to_bytes(), key=env.video_id.encode(), headers=headers
            )
    finally:
        await producer.stop()


def event(
    event_type: str,
    data: BaseModel | dict[str, Any],
    *,
    video_id: str,
    tenant_id: str,
    correlation_id: str | None = None,
) -> Envelope:
    return new_event(
        event_type,
        data,
        producer=TEST_PRODUCER,
        tenant_id=tenant_id,
        video_id=video_id,
        correlation_id=correlation_id or uuid.uuid4().hex,
    )


async def topic_partitions(consumer: AIOKafkaConsumer, event_types: Iterable[str]) -> list[TopicPartition]:
    out: list[TopicPartition] = []
    for name in sorted({topic(t) for t in event_types}):
        # Loads the topic's metadata (partitions_for_topic alone answers from a possibly empty cache).
        found = await consumer._client._wait_on_metadata(name)
        out += [TopicPartition(name, p) for p in sorted(found)]
    return out


async def start_group_at_end(settings: Settings, group_id: str, event_types: Iterable[str]) -> None:
    """Commit the current end offsets for a fresh consumer group, so it skips earlier runs' events."""
    await ensure_topics(settings)
    consumer = AIOKafkaConsumer(bootstrap_servers=settings.kafka_bootstrap, group_id=group_id, enable_auto_commit=False)
    await consumer.start()
    try:
        partitions = await topic_partitions(consumer, event_types)
        ends = await consumer.end_offsets(partitions)
        consumer.assign(partitions)
        await consumer.commit({tp: OffsetAndMetadata(offset, "") for tp, offset in ends.items()})
    finally:
        await consumer.stop()


@dataclass
class EventLog:
    """Collects every event of some topics published after :meth:`start` (no consumer group)."""

    settings: Settings
    event_types: Sequence[str]
    events: list[Envelope] = field(default_factory=list)
    _consumer: AIOKafkaConsumer | None = None
    _task: asyncio.Task[None] | None = None

    async def start(self) -> EventLog:
        consumer = AIOKafkaConsumer(
            bootstrap_servers=self.settings.kafka_bootstrap, group_id=None, enable_auto_commit=False
        )
        await consumer.start()
        partitions = await topic_partitions(consumer, self.event_types)
        consumer.assign(partitions)
        ends = await consumer.end_offsets(partitions)
        for tp, offset in ends.items():
            consumer.seek(tp, offset)
        self._consumer = consumer
        self._task = asyncio.create_task(self._collect())
        return self

    async def _collect(self) -> None:
        assert self._consumer is not None
        while True:
            batch = await self._consumer.getmany(timeout_ms=200)
            for records in batch.values():
                for record in records:
                    with contextlib.suppress(Exception):
                        self.events.append(Envelope.from_bytes(record.value))

    async def stop(self) -> None:
        if self._task is not None:
            self._task.cancel()
            with contextlib.suppress(asyncio.CancelledError, Exception):
                await self._task
        if self._consumer is not None:
            await self._consumer.stop()

    def of(self, event_type: str, video_id: str | None = None) -> list[Envelope]:
        return [e for e in self.events if e.event_type == event_type and (video_id is None or e.video_id == video_id)]

    async def wait_for(
        self, predicate: Callable[[list[Envelope]], bool], *, timeout: float = 300.0, describe: str = ""
    ) -> list[Envelope]:
        """Poll until ``predicate(events)``; the timeout only guards against hanging."""
        deadline = time.monotonic() + timeout
        while not predicate(self.events):
            if self._task is not None and self._task.done():
                self._task.result()  # surface a crashed collector
            if time.monotonic() > deadline:
                seen = [(e.event_type, e.video_id, e.data.get("reason_code")) for e in self.events][-20:]
                raise TimeoutError(f"waited {timeout:.0f} s for {describe or predicate}; last events: {seen}")
            await asyncio.sleep(0.2)
        return self.events

    async def first(self, event_type: str, video_id: str, *, timeout: float = 300.0) -> Envelope:
        await self.wait_for(lambda _: bool(self.of(event_type, video_id)), timeout=timeout, describe=event_type)
        return self.of(event_type, video_id)[0]

    async def own(
        self, service: ServiceProcess, event_type: str | None = None, video_id: str | None = None
    ) -> list[Envelope]:
        """Events of ``service``'s own outbox seen on Kafka, in order.

        Another instance in a default consumer group (``clipforge up`` beside the tests) consumes
        the tests' events too and answers them; only this instance's answers count.
        """
        ids = await service.emitted_ids()
        return [
            e
            for e in self.events
            if e.event_id in ids
            and (event_type is None or e.event_type == event_type)
            and (video_id is None or e.video_id == video_id)
        ]

    async def wait_own(
        self,
        service: ServiceProcess,
        predicate: Callable[[list[Envelope]], bool],
        *,
        timeout: float = 300.0,
        describe: str = "",
    ) -> list[Envelope]:
        """Poll until ``predicate`` holds for ``service``'s own events; the timeout only guards hangs."""
        deadline = time.monotonic() + timeout
        while True:
            own = await self.own(service)
            if predicate(own):
                return own
            if self._task is not None and self._task.done():
                self._task.result()
            if time.monotonic() > deadline:
                seen = [(e.event_type, e.video_id, e.data.get("reason_code")) for e in own][-20:]
                raise TimeoutError(f"waited {timeout:.0f} s for {describe}; own events: {seen}\n{service.log_tail()}")
            await asyncio.sleep(0.3)


# --------------------------------------------------------------------------------------- processes


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


@dataclass
class ServiceProcess:
    """``python -m clipforge_<name>`` with its own group and database; a process-group leader, so a
    kill takes its ffmpeg children with it (like a container dying)."""

    name: str
    settings: Settings
    log_dir: Path
    extra_env: dict[str, str] = field(default_factory=dict)
    unique: str = field(default_factory=lambda: uuid.uuid4().hex[:10])
    port: int = field(default_factory=free_port)
    proc: subprocess.Popen[bytes] | None = None
    starts: int = 0

    @property
    def env_prefix(self) -> str:
        return f"CLIPFORGE_{self.name.upper()}_"

    @property
    def tenant_id(self) -> str:
        """The only tenant this instance serves (unless ``extra_env`` sets its ``TENANTS``, e.g. a tenant
        shared by several services): other tests' events on the same topics are ignored."""
        return self.extra_env.get(f"{self.env_prefix}TENANTS", f"tenant-{self.unique}")

    @property
    def base_url(self) -> str:
        return f"http://127.0.0.1:{self.port}"

    @property
    def group_id(self) -> str:
        return f"test.{self.name}.{self.unique}"

    @property
    def database(self) -> str:
        return f"clipforge_test_{self.name}_{self.unique}"

    @property
    def log_path(self) -> Path:
        return self.log_dir / f"{self.name}-{self.unique}-{self.starts}.log"

    def env(self) -> dict[str, str]:
        prefix = self.env_prefix
        env = dict(os.environ)
        env.update(
            {
                f"{prefix}GROUP_ID": self.group_id,
                f"{prefix}DATABASE": self.database,
                f"{prefix}PORT": str(self.port),
                f"{prefix}TENANTS": self.tenant_id,
                "PYTHONUNBUFFERED": "1",  # the log is complete even after a kill -9
                "CLIPFORGE_JOB_POLL_SECONDS": "0.2",
                **self.extra_env,
            }
        )
        return env

    def start(self) -> None:
        self.starts += 1
        with self.log_path.open("wb") as log:
            self.proc = subprocess.Popen(
                [sys.executable, "-m", f"clipforge_{self.name}"],
                env=self.env(),
                stdout=log,
                stderr=log,
                start_new_session=True,
            )

    async def wait_ready(self, timeout: float = 120.0) -> None:
        deadline = time.monotonic() + timeout
        async with httpx.AsyncClient() as client:
            while True:
                assert self.proc is not None and self.proc.poll() is None, self.log_tail()
                with contextlib.suppress(httpx.HTTPError):
                    if (await client.get(f"{self.base_url}/readyz", timeout=2)).status_code == 200:
                        return
                if time.monotonic() > deadline:
                    raise TimeoutError(f"{self.name} not ready: {self.log_tail()}")
                await asyncio.sleep(0.3)

    async def metric(self, name: str, **labels: str) -> float:
        """A Prometheus sample of the running process (0 when absent)."""
        async with httpx.AsyncClient() as client:
            text = (await client.get(f"{self.base_url}/metrics", timeout=5)).text
        want = [f'{k}="{v}"' for k, v in labels.items()]
        for line in text.splitlines():
            if line.startswith(name + "{") and all(w in line for w in want):
                return float(line.rsplit(" ", 1)[1])
        return 0.0

    def kill9(self) -> None:
        """SIGKILL the whole process group: no shutdown hook runs, leases are left to expire."""
        assert self.proc is not None
        with contextlib.suppress(ProcessLookupError):
            os.killpg(self.proc.pid, signal.SIGKILL)
        self.proc.wait(timeout=30)

    def stop(self) -> int | None:
        if self.proc is None or self.proc.poll() is not None:
            return self.proc.returncode if self.proc else None
        self.proc.send_signal(signal.SIGTERM)
        try:
            return self.proc.wait(timeout=60)
        except subprocess.TimeoutExpired:
            self.kill9()
            return None

    def log_tail(self, chars: int = 4000) -> str:
        try:
            return self.log_path.read_text(errors="replace")[-chars:]
        except FileNotFoundError:
            return ""

    async def emitted_ids(self) -> set[str]:
        """Ids of the events this instance wrote to its outbox (published or about to be)."""
        return {r["event_id"] for r in await self.fetch("SELECT event_id FROM outbox")}

    def encoding(self) -> bool:
        """Whether one of this instance's children is an ffmpeg encode (not a probe or frame sampler)."""
        assert self.proc is not None
        with contextlib.suppress(psutil.Error):
            for child in psutil.Process(self.proc.pid).children(recursive=True):
                with contextlib.suppress(psutil.Error):
                    args = child.cmdline()
                    if args and "ffmpeg" in Path(args[0]).name and "-filter_complex" in args:
                        return True
        return False

    async def fetch(self, query: str, *args: Any) -> list[asyncpg.Record]:
        conn = await asyncpg.connect(self.settings.pg_dsn(self.database))
        try:
            return await conn.fetch(query, *args)
        finally:
            await conn.close()

    async def drop_database(self) -> None:
        await drop_database(self.settings, self.database)


def tenant_service(name: str, settings: Settings, log_dir: Path, tenant: str, **extra_env: str) -> ServiceProcess:
    """``python -m clipforge_<name>`` serving only ``tenant`` (not started; start its group at the end first)."""
    return ServiceProcess(name, settings, log_dir, {f"CLIPFORGE_{name.upper()}_TENANTS": tenant, **extra_env})


async def start_service(
    name: str, settings: Settings, log_dir: Path, consumes: Iterable[str], **extra_env: str
) -> ServiceProcess:
    service = ServiceProcess(name, settings, log_dir, dict(extra_env))
    await start_group_at_end(settings, service.group_id, consumes)
    service.start()
    await service.wait_ready()
    return service


# -------------------------------------------------------------------------------------------- media


def talk(sentences: Sequence[str], *, breaks: Sequence[int] = (), face: str = "left") -> tuple[Path, SpeechScript]:
    """A cached 640x360 talking-head video of ``sentences`` (hibari speech, astronaut photo)."""
    return cached_talk(tuple(sentences), suffix=".mp4", paragraph_breaks=tuple(breaks), face=face)


def wav16(media: Path) -> Path:
    """The 16 kHz mono WAV ingest would extract from ``media`` (cached)."""

    def build(out: Path) -> None:
        run_ffmpeg(["-i", str(media), "-vn", "-ac", "1", "-ar", "16000", "-c:a", "pcm_s16le", str(out)])

    return cached({"wav16": media.name}, build, suffix=".wav")


def asr_transcript(wav: Path) -> Transcript:
    """A real pocketsphinx transcript of ``wav`` (cached: the decoder is the slow part)."""
    from clipforge_transcribe.domain import make_engine, transcribe_audio

    def build(out: Path) -> None:
        out.write_text(transcribe_audio(wav, make_engine("pocketsphinx")).model_dump_json())

    path = cached({"transcript": wav.name, "engine": "pocketsphinx"}, build, suffix=".json")
    return Transcript.model_validate_json(path.read_text())


@dataclass(frozen=True)
class StoredVideo:
    video_id: str
    tenant_id: str
    source_key: str
    audio_key: str
    transcript_key: str
    transcript: Transcript

    def ingested(self, media: Path) -> Envelope:
        info = ffprobe(media)
        video = next((s for s in info["streams"] if s.get("codec_type") == "video"), None)
        audio = next((s for s in info["streams"] if s.get("codec_type") == "audio"), None)
        data = VideoIngested(
            duration=float(info["format"]["duration"]),
            width=int(video["width"]) if video else None,
            height=int(video["height"]) if video else None,
            video_codec=video.get("codec_name") if video else None,
            audio_codec=audio.get("codec_name") if audio else None,
            size=media.stat().st_size,
            sha256="0" * 64,
            source_key=self.source_key,
            audio_key=self.audio_key,
        )
        return event("video.ingested", data, video_id=self.video_id, tenant_id=self.tenant_id)

    def transcript_completed(self) -> Envelope:
        data = TranscriptCompleted(
            transcript_key=self.transcript_key,
            engine=self.transcript.engine,
            engine_version=self.transcript.engine_version,
            language=self.transcript.language,
            word_count=len(self.transcript.words),
            sentence_count=len(self.transcript.sentences),
            duration=self.transcript.duration,
        )
        return event("transcript.completed", data, video_id=self.video_id, tenant_id=self.tenant_id)

    def deleted(self) -> Envelope:
        return event("video.deleted", {"reason": "test cleanup"}, video_id=self.video_id, tenant_id=self.tenant_id)


async def store_video(
    settings: Settings,
    media: Path,
    transcript: Transcript,
    *,
    tenant_id: str,
    wav: Path | None = None,
    video_id: str | None = None,
) -> StoredVideo:
    """Upload what ingest and transcribe would have stored for a video: source, audio, transcript."""
    video_id = video_id or f"vid-{uuid.uuid4().hex[:12]}"
    store = ObjectStore(settings)
    await store.ensure_bucket()
    source_key = video_source_key(video_id, media.suffix)
    await store.upload_file(media, source_key, "video/mp4")
    audio_key = video_audio_key(video_id)
    if wav is not None:
        await store.upload_file(wav, audio_key, "audio/wav")
    doc = transcript.model_copy(update={"video_id": video_id})
    key = transcript_key(video_id)
    await store.put_bytes(key, doc.model_dump_json().encode(), "application/json")
    return StoredVideo(video_id, tenant_id, source_key, audio_key, key, doc)


async def remove_video(settings: Settings, stored: StoredVideo, clip_ids: Iterable[str] = ()) -> None:
    """Delete what a test stored for a video, and its clips' outputs (the service's purge job may not
    run before the service stops)."""
    store = ObjectStore(settings)
    await store.delete_prefix(f"videos/{stored.video_id}/")
    for clip_id in clip_ids:
        await store.delete_prefix(f"clips/{clip_id}/")
    with contextlib.suppress(Exception):
        await store.delete(stored.transcript_key)
