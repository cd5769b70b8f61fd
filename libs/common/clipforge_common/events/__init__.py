"""The event catalog: every (event type, version), its payload model and its topic."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from pydantic import BaseModel

from clipforge_common.events import v1
from clipforge_common.events.v1 import (
    CaptionStyleData,
    ClipRendered,
    ClipRenderFailed,
    ClipsRanked,
    IngestOptions,
    IngestRequested,
    PipelineProgress,
    RankedClipData,
    RankFailed,
    RankRequested,
    RenderRequested,
    SourceRef,
    TranscriptCompleted,
    TranscriptFailed,
    VideoDeleted,
    VideoIngested,
    VideoIngestFailed,
)

FOREVER = -1
PROGRESS_RETENTION_MS = 6 * 3600 * 1000


@dataclass(frozen=True)
class EventSpec:
    event_type: str
    version: int
    model: type[BaseModel]
    producer: str
    summary: str
    retention_ms: int = FOREVER

    @property
    def topic(self) -> str:
        return topic_name(self.event_type, self.version)

    @property
    def dlq_topic(self) -> str:
        return self.topic + ".dlq"


def topic_name(event_type: str, version: int) -> str:
    return f"clipforge.{event_type}.v{version}"


CATALOG: tuple[EventSpec, ...] = (
    EventSpec("ingest.requested", 1, IngestRequested, "gateway", "A client asked to ingest an upload or a URL."),
    EventSpec("video.ingested", 1, VideoIngested, "ingest", "A source was validated, hashed and its audio extracted."),
    EventSpec("video.ingest_failed", 1, VideoIngestFailed, "ingest", "A source was refused or could not be read."),
    EventSpec("transcript.completed", 1, TranscriptCompleted, "transcribe", "A transcript was stored in S3."),
    EventSpec("transcript.failed", 1, TranscriptFailed, "transcribe", "Speech recognition failed."),
    EventSpec("rank.requested", 1, RankRequested, "gateway", "Re-rank an existing transcript."),
    EventSpec("clips.ranked", 1, ClipsRanked, "rank", "Clip candidates were scored and explained."),
    EventSpec("rank.failed", 1, RankFailed, "rank", "Ranking failed."),
    EventSpec("render.requested", 1, RenderRequested, "gateway", "Render one clip with a preset and caption style."),
    EventSpec("clip.rendered", 1, ClipRendered, "render", "A clip, its captions and thumbnail are in S3."),
    EventSpec("clip.render_failed", 1, ClipRenderFailed, "render", "Rendering a clip failed."),
    EventSpec("video.deleted", 1, VideoDeleted, "gateway", "Tombstone: every service forgets the video."),
    EventSpec(
        "pipeline.progress",
        1,
        PipelineProgress,
        "any",
        "Ephemeral progress of a stage (not a source of truth).",
        retention_ms=PROGRESS_RETENTION_MS,
    ),
)

_BY_KEY: dict[tuple[str, int], EventSpec] = {(s.event_type, s.version): s for s in CATALOG}
DOMAIN_EVENTS: tuple[EventSpec, ...] = tuple(s for s in CATALOG if s.event_type != "pipeline.progress")


class UnknownEventError(ValueError):
    """No model is registered for this (event type, version)."""


def spec_for(event_type: str, version: int) -> EventSpec:
    try:
        return _BY_KEY[(event_type, version)]
    except KeyError:
        raise UnknownEventError(f"unknown event {event_type} v{version}") from None


def parse_data(event_type: str, version: int, data: dict[str, Any]) -> BaseModel:
    return spec_for(event_type, version).model.model_validate(data)


def latest_version(event_type: str) -> int:
    versions = [s.version for s in CATALOG if s.event_type == event_type]
    if not versions:
        raise UnknownEventError(f"unknown event type {event_type}")
    return max(versions)


__all__ = [
    "CATALOG",
    "DOMAIN_EVENTS",
    "CaptionStyleData",
    "ClipRenderFailed",
    "ClipRendered",
    "ClipsRanked",
    "EventSpec",
    "IngestOptions",
    "IngestRequested",
    "PipelineProgress",
    "RankFailed",
    "RankRequested",
    "RankedClipData",
    "RenderRequested",
    "SourceRef",
    "TranscriptCompleted",
    "TranscriptFailed",
    "UnknownEventError",
    "VideoDeleted",
    "VideoIngestFailed",
    "VideoIngested",
    "latest_version",
    "parse_data",
    "spec_for",
    "topic_name",
    "v1",
]
