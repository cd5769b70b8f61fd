"""Operator replay over the domain topics: a video's full history, and reprocessing (re-rank).

The topics are the system of record, so both read Kafka directly and need no service running:

* :func:`video_history` reads, in every domain topic, only the partition the producers' partitioner
  puts the video's key on (murmur2, like every Kafka client's default), from its beginning to its
  current end, and keeps the records keyed by the video.
* :func:`rerank` finds the videos to re-rank by scanning ``transcript.completed`` (the videos that
  have a transcript, with their tenant) minus ``video.deleted``, and publishes one ``rank.requested``
  per video with an operator producer id and one correlation id for the run.
"""

from __future__ import annotations

import asyncio
import getpass
from collections.abc import AsyncIterator, Callable, Collection, Iterable, Sequence
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any

from aiokafka import AIOKafkaConsumer, AIOKafkaProducer, TopicPartition
from aiokafka.admin import AIOKafkaAdminClient
from aiokafka.partitioner import murmur2
from pydantic import BaseModel, Field, ValidationError

from clipforge_common import __version__
from clipforge_common.envelope import Envelope, new_event_id
from clipforge_common.events import DOMAIN_EVENTS, RankRequested, spec_for
from clipforge_common.outbox import new_event
from clipforge_common.settings import Settings
from clipforge_common.topics import ensure_topics

FETCH_TIMEOUT_MS = 500


def partition_for(key: bytes, partitions: int) -> int:
    """The partition a keyed record lands on (aiokafka's and Java's default partitioner)."""
    if partitions < 1:
        raise ValueError("a topic has at least one partition")
    return (murmur2(key) & 0x7FFFFFFF) % partitions


def operator_producer(operator: str | None = None) -> str:
    """The producer id stamped on events an operator publishes: ``replay:<operator>@<version>``."""
    name = operator or getpass.getuser() or "operator"
    return f"replay:{name}@{__version__}"


# ------------------------------------------------------------------------------------------ reading


@dataclass(frozen=True)
class TopicRecord:
    topic: str
    partition: int
    offset: int
    key: bytes | None
    value: bytes


async def topic_partitions(settings: Settings, topics: Iterable[str]) -> dict[str, list[int]]:
    """The partition numbers of each existing topic (missing topics are left out)."""
    admin = AIOKafkaAdminClient(
        bootstrap_servers=settings.kafka_bootstrap, client_id=f"{settings.kafka_client_id}-replay"
    )
    await admin.start()
    try:
        return {
            desc["topic"]: sorted(p["partition"] for p in desc["partitions"])
            for desc in await admin.describe_topics(list(topics))
            if not desc.get("error_code") and desc.get("partitions")
        }
    finally:
        await admin.close()


async def read_records(
    settings: Settings,
    topics: Sequence[str],
    *,
    key: bytes | None = None,
) -> AsyncIterator[TopicRecord]:
    """Every record of ``topics`` from the beginning to the end they had when called (no group).

    With ``key``, only the partition of each topic that key is hashed to is read, and only records
    with that key are yielded.
    """
    layout = await topic_partitions(settings, topics)
    consumer = AIOKafkaConsumer(
        bootstrap_servers=settings.kafka_bootstrap,
        client_id=f"{settings.kafka_client_id}-replay",
        group_id=None,
        enable_auto_commit=False,
    )
    await consumer.start()
    try:
        if key is not None:
            # Partitions are numbered 0..n-1; the producer picked one from the key alone.
            wanted = [TopicPartition(name, partition_for(key, len(parts))) for name, parts in layout.items()]
        else:
            wanted = [TopicPartition(name, p) for name, parts in layout.items() for p in parts]
        if not wanted:
            return
        consumer.assign(wanted)
        ends = await consumer.end_offsets(wanted)
        beginnings = await consumer.beginning_offsets(wanted)
        pending = {tp for tp in wanted if ends[tp] > beginnings[tp]}
        for tp in wanted:
            consumer.seek(tp, beginnings[tp])
        for tp in set(wanted) - pending:
            consumer.pause(tp)
        while pending:
            batch = await consumer.getmany(*pending, timeout_ms=FETCH_TIMEOUT_MS)
            for tp, records in batch.items():
                for record in records:
                    if record.offset >= ends[tp]:
                        break
                    if key is None or record.key == key:
                        yield TopicRecord(tp.topic, tp.partition, record.offset, record.key, record.value)
            for tp in list(pending):
                if await consumer.position(tp) >= ends[tp]:
                    pending.discard(tp)
                    consumer.pause(tp)
    finally:
        await consumer.stop()


# ------------------------------------------------------------------------------------------ history


class HistoryEntry(BaseModel):
    occurred_at: datetime
    topic: str
    partition: int
    offset: int
    event_type: str
    event_version: int
    event_id: str
    producer: str
    tenant_id: str
    video_id: str
    correlation_id: str
    causation_id: str | None = None
    summary: str
    data: dict[str, Any] = Field(default_factory=dict)


def _short(value: Any, limit: int = 80) -> str:
    text = str(value)
    return text if len(text) <= limit else text[: limit - 1] + "…"


def summarize(event_type: str, data: dict[str, Any]) -> str:
    """One line a person can read for an event's payload (reason codes first for failures)."""
    d = data
    if "reason_code" in d:
        where = " ".join(f"{k}={d[k]}" for k in ("clip_id", "preset") if d.get(k))
        text = f"{d['reason_code']}: {_short(d.get('message', ''))}"
        return f"{text} ({where})" if where else text
    match event_type:
        case "ingest.requested":
            src = d.get("source") or {}
            what = src.get("filename") or src.get("url") or src.get("key") or "?"
            return f"{src.get('kind', 'source')} {_short(what, 60)} project={d.get('project_id')}"
        case "video.ingested":
            size = f" {d.get('width')}x{d.get('height')}" if d.get("width") else ""
            codecs = "/".join(c for c in (d.get("video_codec"), d.get("audio_codec")) if c)
            return f"{float(d.get('duration') or 0):.1f} s{size} {codecs}".rstrip()
        case "transcript.completed":
            return (
                f"{d.get('engine')} {d.get('engine_version')} {d.get('language')}: {d.get('word_count')} words, "
                f"{float(d.get('duration') or 0):.1f} s"
            )
        case "rank.requested":
            ranker = d.get("ranker_version") or "service default"
            extra = f" settings={sorted(d['settings'])}" if d.get("settings") else ""
            return f"ranker {ranker}{extra}"
        case "clips.ranked":
            clips = d.get("clips") or []
            best = max((float(c.get("score") or 0) for c in clips), default=None)
            top = f", best score {best:.3f}" if best is not None else ""
            return f"ranker {d.get('ranker_version')}: {len(clips)} clips{top}"
        case "render.requested":
            return f"clip {d.get('clip_id')} preset {d.get('preset')}"
        case "clip.rendered":
            return (
                f"clip {d.get('clip_id')} preset {d.get('preset')}: {float(d.get('duration') or 0):.1f} s "
                f"{d.get('width')}x{d.get('height')}"
            )
        case "video.deleted":
            return f"deleted ({d.get('reason') or 'no reason given'})"
        case "pipeline.progress":
            return f"{d.get('stage')} {d.get('percent')}% {_short(d.get('message') or '', 50)}".rstrip()
        case _:
            return _short(", ".join(f"{k}={v}" for k, v in d.items()), 100)


def history_entry(record: TopicRecord) -> HistoryEntry | None:
    """The entry of one record (None when the body is not an envelope)."""
    try:
        env = Envelope.from_bytes(record.value)
    except (ValidationError, ValueError):
        return None
    return HistoryEntry(
        occurred_at=env.occurred_at,
        topic=record.topic,
        partition=record.partition,
        offset=record.offset,
        event_type=env.event_type,
        event_version=env.event_version,
        event_id=env.event_id,
        producer=env.producer,
        tenant_id=env.tenant_id,
        video_id=env.video_id,
        correlation_id=env.correlation_id,
        causation_id=env.causation_id,
        summary=summarize(env.event_type, env.data),
        data=env.data,
    )


def order_history(entries: Iterable[HistoryEntry]) -> list[HistoryEntry]:
    """Across topics by time of occurrence; ties by event id (UUIDv7, time-ordered), then offset."""
    return sorted(entries, key=lambda e: (e.occurred_at, e.event_id, e.topic, e.offset))


async def video_history(
    settings: Settings, video_id: str, *, include_progress: bool = False, include_dlq: bool = False
) -> list[HistoryEntry]:
    """Every event of ``video_id`` in the domain topics (optionally progress and dead letters), in order."""
    specs = list(DOMAIN_EVENTS)
    if include_progress:
        specs.append(spec_for("pipeline.progress", 1))
    topics = [s.topic for s in specs] + ([s.dlq_topic for s in specs] if include_dlq else [])
    entries: list[HistoryEntry] = []
    async for record in read_records(settings, topics, key=video_id.encode()):
        entry = history_entry(record)
        if entry is not None and entry.video_id == video_id:
            entries.append(entry)
    return order_history(entries)


# ------------------------------------------------------------------------------------------- rerank


class RerankTarget(BaseModel):
    video_id: str
    tenant_id: str
    transcript_event_id: str
    transcribed_at: datetime


class RerankReport(BaseModel):
    correlation_id: str
    producer: str
    ranker_version: str | None
    dry_run: bool
    requested: list[RerankTarget]
    not_found: list[str] = Field(default_factory=list, description="--video ids with no live transcript")
    event_ids: list[str] = Field(default_factory=list)


@dataclass
class VideoIndex:
    """What the scan learned: each video's latest transcript.completed, and the deleted videos."""

    transcripts: dict[str, RerankTarget] = field(default_factory=dict)
    deleted: set[str] = field(default_factory=set)

    def add(self, env: Envelope) -> None:
        if env.event_type == "video.deleted":
            self.deleted.add(env.video_id)
        elif env.event_type == "transcript.completed":
            seen = self.transcripts.get(env.video_id)
            if seen is None or seen.transcribed_at <= env.occurred_at:
                self.transcripts[env.video_id] = RerankTarget(
                    video_id=env.video_id,
                    tenant_id=env.tenant_id,
                    transcript_event_id=env.event_id,
                    transcribed_at=env.occurred_at,
                )


def select_targets(
    index: VideoIndex, *, tenants: Collection[str] = (), video_ids: Collection[str] = ()
) -> tuple[list[RerankTarget], list[str]]:
    """The videos to re-rank (transcribed, not deleted, matching the filters) and the asked-for ids not found."""
    out = [
        t
        for vid, t in index.transcripts.items()
        if vid not in index.deleted and (not tenants or t.tenant_id in tenants) and (not video_ids or vid in video_ids)
    ]
    found = {t.video_id for t in out}
    missing = sorted(v for v in video_ids if v not in found)
    return sorted(out, key=lambda t: (t.tenant_id, t.video_id)), missing


def rank_requests(
    targets: Iterable[RerankTarget],
    *,
    ranker_version: str | None,
    ranker_settings: dict[str, Any] | None,
    producer: str,
    correlation_id: str,
) -> list[Envelope]:
    """One ``rank.requested`` per target, caused by the transcript it re-ranks."""
    data = RankRequested(ranker_version=ranker_version, settings=ranker_settings or {})
    return [
        new_event(
            "rank.requested",
            data,
            producer=producer,
            tenant_id=t.tenant_id,
            video_id=t.video_id,
            correlation_id=correlation_id,
            causation_id=t.transcript_event_id,
        )
        for t in targets
    ]


async def scan_videos(settings: Settings) -> VideoIndex:
    index = VideoIndex()
    topics = [spec_for("transcript.completed", 1).topic, spec_for("video.deleted", 1).topic]
    async for record in read_records(settings, topics):
        try:
            index.add(Envelope.from_bytes(record.value))
        except (ValidationError, ValueError):
            continue  # a poison record is the DLQ's business, not a video to re-rank
    return index


async def publish(settings: Settings, envelopes: Sequence[Envelope]) -> None:
    """Publish keyed by video id, envelope mirrored in headers; idempotent producer, acks=all."""
    if not envelopes:
        return
    await ensure_topics(settings)
    producer = AIOKafkaProducer(
        bootstrap_servers=settings.kafka_bootstrap,
        client_id=f"{settings.kafka_client_id}-replay",
        acks="all",
        enable_idempotence=True,
    )
    await producer.start()
    try:
        sends = [
            await producer.send(
                spec_for(env.event_type, env.event_version).topic,
                env.to_bytes(),
                key=env.video_id.encode(),
                headers=[(k, v.encode()) for k, v in env.headers().items()],
            )
            for env in envelopes
        ]
        await asyncio.gather(*sends)
    finally:
        await producer.stop()


async def rerank(
    settings: Settings,
    *,
    tenants: Collection[str] = (),
    video_ids: Collection[str] = (),
    ranker_version: str | None = None,
    ranker_settings: dict[str, Any] | None = None,
    dry_run: bool = False,
    producer: str | None = None,
    correlation_id: str | None = None,
    on_scanned: Callable[[VideoIndex], None] | None = None,
) -> RerankReport:
    """Publish ``rank.requested`` for every transcribed, not deleted video matching the filters."""
    index = await scan_videos(settings)
    if on_scanned is not None:
        on_scanned(index)
    targets, missing = select_targets(index, tenants=tenants, video_ids=video_ids)
    producer = producer or operator_producer()
    correlation_id = correlation_id or new_event_id()
    events = rank_requests(
        targets,
        ranker_version=ranker_version,
        ranker_settings=ranker_settings,
        producer=producer,
        correlation_id=correlation_id,
    )
    if not dry_run:
        await publish(settings, events)
    return RerankReport(
        correlation_id=correlation_id,
        producer=producer,
        ranker_version=ranker_version,
        dry_run=dry_run,
        requested=targets,
        not_found=missing,
        event_ids=[] if dry_run else [e.event_id for e in events],
    )
