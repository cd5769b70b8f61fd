"""Payload models (``data``) of every v1 event in the design's catalog.

These models are the single source of truth for the contract: schemas/ is generated from them.
Inside a major version only backward-compatible changes are allowed (add optional fields); anything
else makes a v2 model plus an upcaster in clipforge_common.upcasters.
"""

from __future__ import annotations

from typing import Any, Literal

from pydantic import BaseModel, ConfigDict, Field


class Payload(BaseModel):
    # Unknown fields are kept, not rejected: a newer minor producer may add optional fields.
    model_config = ConfigDict(extra="allow")


class FailurePayload(Payload):
    reason_code: str = Field(description="machine-readable cause, e.g. no_audio_track", examples=["no_audio_track"])
    message: str = Field(description="what happened and what the user can do about it")


# ------------------------------------------------------------------------------------------ ingest


class SourceRef(Payload):
    kind: Literal["upload", "url"]
    key: str | None = Field(default=None, description="object key of an upload, e.g. videos/<id>/source.mp4")
    url: str | None = Field(default=None, description="http(s) URL to import")
    filename: str | None = Field(default=None, description="original file name, informational")


class IngestOptions(Payload):
    language: str = "en"
    top_k: int | None = Field(default=None, ge=0, le=50, description="clips to auto-render (service default if null)")
    preset: str | None = Field(default=None, description="render preset for auto-rendered clips")


class IngestRequested(Payload):
    project_id: str
    source: SourceRef
    options: IngestOptions = Field(default_factory=IngestOptions)


class VideoIngested(Payload):
    duration: float = Field(ge=0, description="seconds")
    width: int | None = Field(default=None, description="null for audio-only sources")
    height: int | None = None
    fps: float | None = None
    video_codec: str | None = None
    audio_codec: str | None = None
    container: str | None = None
    size: int = Field(ge=0, description="bytes of the source")
    sha256: str
    source_key: str
    audio_key: str = Field(description="16 kHz mono WAV extracted from the source")
    reused_from: str | None = Field(
        default=None, description="video_id whose results this identical source reuses (same sha256 in the project)"
    )


class VideoIngestFailed(FailurePayload):
    pass


# -------------------------------------------------------------------------------------- transcribe


class TranscriptCompleted(Payload):
    transcript_key: str
    engine: str = Field(examples=["pocketsphinx"])
    engine_version: str
    language: str
    word_count: int = Field(ge=0)
    sentence_count: int = Field(default=0, ge=0)
    duration: float = Field(ge=0)


class TranscriptFailed(FailurePayload):
    pass


# -------------------------------------------------------------------------------------------- rank


class RankRequested(Payload):
    ranker_version: str | None = Field(default=None, description="ranker to use; the service default if null")
    settings: dict[str, Any] = Field(default_factory=dict, description="overrides of the ranker settings")


class RankedClipData(Payload):
    clip_id: str
    start: float = Field(ge=0)
    end: float = Field(ge=0)
    score: float = Field(ge=0, le=100)
    features: dict[str, float] = Field(default_factory=dict)
    reasons: list[str] = Field(default_factory=list)
    title: str = ""
    hook: str = ""


class ClipsRanked(Payload):
    ranker_version: str
    transcript_key: str | None = None
    clips: list[RankedClipData]


class RankFailed(FailurePayload):
    pass


# ------------------------------------------------------------------------------------------ render


class CaptionStyleData(Payload):
    font_size: int | None = Field(default=None, ge=8, le=200)
    primary_color: str | None = Field(default=None, examples=["#FFFFFF"])
    highlight_color: str | None = Field(default=None, examples=["#FFD400"])
    position: Literal["bottom", "middle", "top"] | None = None
    enabled: bool = True


class RenderRequested(Payload):
    clip_id: str
    preset: str = Field(examples=["vertical"])
    caption_style: CaptionStyleData = Field(default_factory=CaptionStyleData)
    render_id: str | None = None


class ClipRendered(Payload):
    clip_id: str
    preset: str
    video_key: str
    thumbnail_key: str
    srt_key: str
    vtt_key: str
    duration: float = Field(ge=0)
    width: int
    height: int
    size: int = Field(ge=0)
    render_id: str | None = None


class ClipRenderFailed(FailurePayload):
    clip_id: str
    preset: str
    render_id: str | None = None


# ------------------------------------------------------------------------------------------- other


class VideoDeleted(Payload):
    reason: str | None = None


class PipelineProgress(Payload):
    stage: str = Field(examples=["ingest", "transcribe", "rank", "render"])
    percent: float = Field(ge=0, le=100)
    message: str = ""
    clip_id: str | None = None
