"""Request and response bodies of the public API (the OpenAPI document is generated from these)."""

from __future__ import annotations

from datetime import date, datetime
from typing import Any, Literal

from pydantic import BaseModel, ConfigDict, Field, HttpUrl

Preset = Literal["vertical", "square", "landscape"]
StageStatus = Literal["pending", "running", "done", "failed"]
VideoStatus = Literal["queued", "processing", "ready", "failed", "deleted"]

# PostgreSQL text cannot hold NUL: free text that is stored says so (and is refused with 422).
NO_NUL = r"^[^\x00]*$"

_VIDEO_ID = "0192f1a4-5b6c-7d8e-9f00-112233445566"
_PROJECT_ID = "0192f1a0-0000-7000-8000-00000000abcd"
_CLIP_ID = "0192f1b9-aaaa-7bbb-8ccc-000000000001"
_RENDER_ID = "0192f1c2-1111-7222-8333-000000000009"


class ErrorDetail(BaseModel):
    code: str = Field(examples=["video_not_found"], description="machine-readable, stable")
    message: str = Field(examples=["No video with this id."], description="for humans")
    details: Any | None = Field(default=None, description="e.g. the list of validation errors")


class ErrorResponse(BaseModel):
    error: ErrorDetail

    model_config = ConfigDict(
        json_schema_extra={"examples": [{"error": {"code": "video_not_found", "message": "No video with this id."}}]}
    )


# ------------------------------------------------------------------------------------------ projects


class ProjectCreate(BaseModel):
    name: str = Field(min_length=1, max_length=200, pattern=NO_NUL, examples=["Weekly podcast"])
    description: str = Field(default="", max_length=2000, pattern=NO_NUL, examples=["Episodes of our weekly show"])


class ProjectOut(BaseModel):
    project_id: str = Field(examples=[_PROJECT_ID])
    name: str
    description: str
    created_at: datetime

    model_config = ConfigDict(
        json_schema_extra={
            "examples": [
                {
                    "project_id": _PROJECT_ID,
                    "name": "Weekly podcast",
                    "description": "Episodes of our weekly show",
                    "created_at": "2026-01-05T10:00:00Z",
                }
            ]
        }
    )


class ProjectList(BaseModel):
    items: list[ProjectOut]
    next_cursor: str | None = Field(default=None, description="pass as `cursor` to get the next page")


# -------------------------------------------------------------------------------------------- videos


class IngestOptionsIn(BaseModel):
    model_config = ConfigDict(extra="forbid")

    language: str = Field(default="en", pattern=r"^[a-z]{2,3}(-[A-Za-z0-9]{2,8})?$", examples=["en"])
    top_k: int | None = Field(default=None, ge=0, le=50, description="clips to auto-render; service default if null")
    preset: Preset | None = Field(default=None, description="preset of auto-rendered clips")


class UrlImport(BaseModel):
    model_config = ConfigDict(
        extra="forbid",
        json_schema_extra={
            "examples": [{"url": "https://example.com/talk.mp4", "options": {"language": "en", "top_k": 3}}]
        },
    )

    url: HttpUrl = Field(description="http(s) URL of a video or audio file (or a page yt-dlp understands)")
    options: IngestOptionsIn = Field(default_factory=IngestOptionsIn)


class VideoLinks(BaseModel):
    self: str
    events: str = Field(description="WebSocket of live progress and events")
    transcript: str
    clips: str
    renders: str


class VideoAccepted(BaseModel):
    video_id: str = Field(examples=[_VIDEO_ID])
    project_id: str = Field(examples=[_PROJECT_ID])
    status: VideoStatus = "queued"
    correlation_id: str = Field(description="carried by every event this request causes")
    size: int | None = Field(default=None, description="bytes received (uploads)")
    media_type: str | None = Field(
        default=None, description="sniffed from the content (uploads)", examples=["video/mp4"]
    )
    links: VideoLinks

    model_config = ConfigDict(
        json_schema_extra={
            "examples": [
                {
                    "video_id": _VIDEO_ID,
                    "project_id": _PROJECT_ID,
                    "status": "queued",
                    "correlation_id": "0192f1a4-5b6c-7d8e-9f00-aaaaaaaaaaaa",
                    "size": 48213377,
                    "media_type": "video/mp4",
                    "links": {
                        "self": f"/v1/videos/{_VIDEO_ID}",
                        "events": f"/v1/videos/{_VIDEO_ID}/events",
                        "transcript": f"/v1/videos/{_VIDEO_ID}/transcript",
                        "clips": f"/v1/videos/{_VIDEO_ID}/clips",
                        "renders": f"/v1/videos/{_VIDEO_ID}/renders",
                    },
                }
            ]
        }
    )


class StageOut(BaseModel):
    status: StageStatus
    percent: float = Field(ge=0, le=100)
    message: str = ""
    reason_code: str | None = None
    updated_at: datetime | None = None


class FailureOut(BaseModel):
    stage: str = Field(examples=["ingest"])
    reason_code: str = Field(examples=["no_audio_track"])
    message: str = Field(examples=["The file has no audio track, so there is nothing to transcribe."])
    clip_id: str | None = None
    preset: str | None = None
    at: datetime | None = None


class MetadataOut(BaseModel):
    duration: float | None = Field(default=None, description="seconds")
    width: int | None = None
    height: int | None = None
    fps: float | None = None
    video_codec: str | None = None
    audio_codec: str | None = None
    container: str | None = None
    size: int | None = Field(default=None, description="bytes")
    sha256: str | None = None
    reused_from: str | None = None


class TranscriptInfo(BaseModel):
    language: str
    engine: str
    engine_version: str
    word_count: int
    sentence_count: int
    duration: float
    completed_at: datetime


class SourceOut(BaseModel):
    kind: Literal["upload", "url"]
    filename: str | None = None
    url: str | None = None


class RenderCounts(BaseModel):
    pending: int = 0
    running: int = 0
    done: int = 0
    failed: int = 0


class VideoOut(BaseModel):
    video_id: str
    project_id: str | None
    status: VideoStatus = Field(
        description="queued, processing, ready (clips ranked, no render queued), failed, deleted"
    )
    progress: float = Field(ge=0, le=100, description="mean of the four stages")
    stages: dict[str, StageOut] = Field(description="ingest, transcribe, rank, render")
    metadata: MetadataOut | None = None
    failure: FailureOut | None = None
    transcript: TranscriptInfo | None = None
    ranker_version: str | None = None
    clip_count: int = 0
    renders: RenderCounts = Field(default_factory=RenderCounts)
    source: SourceOut | None = None
    version: int = Field(description="grows with every change; orders WebSocket events")
    created_at: datetime
    updated_at: datetime
    links: VideoLinks

    model_config = ConfigDict(
        json_schema_extra={
            "examples": [
                {
                    "video_id": _VIDEO_ID,
                    "project_id": _PROJECT_ID,
                    "status": "processing",
                    "progress": 42.5,
                    "stages": {
                        "ingest": {
                            "status": "done",
                            "percent": 100,
                            "message": "",
                            "updated_at": "2026-01-05T10:00:03Z",
                        },
                        "transcribe": {"status": "running", "percent": 70, "message": "chunk 7/10"},
                        "rank": {"status": "pending", "percent": 0},
                        "render": {"status": "pending", "percent": 0},
                    },
                    "metadata": {"duration": 312.4, "width": 1920, "height": 1080, "fps": 30, "size": 48213377},
                    "failure": None,
                    "transcript": None,
                    "ranker_version": None,
                    "clip_count": 0,
                    "renders": {"pending": 0, "running": 0, "done": 0, "failed": 0},
                    "source": {"kind": "upload", "filename": "talk.mp4"},
                    "version": 7,
                    "created_at": "2026-01-05T10:00:00Z",
                    "updated_at": "2026-01-05T10:01:10Z",
                    "links": {
                        "self": f"/v1/videos/{_VIDEO_ID}",
                        "events": f"/v1/videos/{_VIDEO_ID}/events",
                        "transcript": f"/v1/videos/{_VIDEO_ID}/transcript",
                        "clips": f"/v1/videos/{_VIDEO_ID}/clips",
                        "renders": f"/v1/videos/{_VIDEO_ID}/renders",
                    },
                }
            ]
        }
    )


class VideoSummary(BaseModel):
    video_id: str
    project_id: str | None
    status: VideoStatus
    progress: float
    source: SourceOut | None = None
    created_at: datetime
    updated_at: datetime


class VideoList(BaseModel):
    items: list[VideoSummary]
    next_cursor: str | None = None


class Accepted(BaseModel):
    video_id: str
    status: Literal["accepted"] = "accepted"
    event_type: str = Field(examples=["video.deleted"], description="the event that was queued")
    event_id: str


# --------------------------------------------------------------------------------- clips and renders


class ClipOut(BaseModel):
    clip_id: str = Field(examples=[_CLIP_ID])
    rank: int = Field(ge=1, description="1 is the best")
    start: float = Field(description="seconds into the source")
    end: float
    duration: float
    score: float = Field(ge=0, le=100)
    features: dict[str, float] = Field(examples=[{"hook_strength": 0.82, "self_contained": 0.9}])
    reasons: list[str] = Field(examples=[["Opens with a question", "Ends on a complete thought"]])
    title: str = Field(examples=["Why most startups die in year two"])
    hook: str = ""
    ranker_version: str


class ClipList(BaseModel):
    video_id: str
    ranker_version: str | None = Field(default=None, description="null until the video is ranked")
    clips: list[ClipOut] = Field(description="best first")


class CaptionStyleIn(BaseModel):
    model_config = ConfigDict(extra="forbid")

    font_size: int | None = Field(default=None, ge=8, le=200)
    primary_color: str | None = Field(default=None, pattern=r"^#[0-9A-Fa-f]{6}$", examples=["#FFFFFF"])
    highlight_color: str | None = Field(default=None, pattern=r"^#[0-9A-Fa-f]{6}$", examples=["#FFD400"])
    position: Literal["bottom", "middle", "top"] | None = None
    enabled: bool = True


class RenderRequestIn(BaseModel):
    model_config = ConfigDict(
        extra="forbid",
        json_schema_extra={
            "examples": [{"preset": "vertical", "caption_style": {"highlight_color": "#FFD400", "position": "bottom"}}]
        },
    )

    preset: Preset = "vertical"
    caption_style: CaptionStyleIn = Field(default_factory=CaptionStyleIn)


class RankRequestIn(BaseModel):
    model_config = ConfigDict(extra="forbid")

    ranker_version: str | None = Field(
        default=None, max_length=100, pattern=NO_NUL, description="null: the rank service's default"
    )
    settings: dict[str, Any] = Field(default_factory=dict, description="overrides of the ranker settings")


class RenderFiles(BaseModel):
    video: str | None = None
    thumbnail: str | None = None
    srt: str | None = None
    vtt: str | None = None


class RenderOut(BaseModel):
    render_id: str = Field(examples=[_RENDER_ID])
    video_id: str
    clip_id: str
    preset: str
    caption_style: dict[str, Any] = Field(default_factory=dict)
    status: StageStatus
    duration: float | None = None
    width: int | None = None
    height: int | None = None
    size: int | None = None
    failure: FailureOut | None = None
    files: RenderFiles = Field(default_factory=RenderFiles, description="download links of the files that exist")
    created_at: datetime
    updated_at: datetime


class RenderList(BaseModel):
    video_id: str
    renders: list[RenderOut]


# ----------------------------------------------------------------------------------------- usage


class UsageRow(BaseModel):
    day: date
    metric: str = Field(examples=["upload_bytes"])
    amount: float


class UsageOut(BaseModel):
    items: list[UsageRow]


# --------------------------------------------------------------------------------------- WebSocket


class WsSnapshot(BaseModel):
    """First message on `/v1/videos/{id}/events`: the current state."""

    type: Literal["snapshot"] = "snapshot"
    version: int
    video: VideoOut


class WsEvent(BaseModel):
    """Every later message: one progress or domain event of the video, in order of ``version``."""

    type: Literal["event"] = "event"
    version: int
    event_type: str = Field(examples=["pipeline.progress", "video.ingested"])
    event_id: str
    occurred_at: datetime
    correlation_id: str | None = None
    data: dict[str, Any]
