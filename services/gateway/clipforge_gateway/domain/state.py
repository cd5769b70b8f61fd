"""The video read model as a pure function of its events.

Every stage keeps the time of the event that last changed it, and an older event never overwrites a
newer one (last writer wins by ``occurred_at``). Events of one video arrive in order within a topic
but not across topics, so this makes the projection the same whatever order a replay delivers them in.
"""

from __future__ import annotations

from dataclasses import dataclass, field, replace
from datetime import datetime
from typing import Any

STAGES: tuple[str, ...] = ("ingest", "transcribe", "rank", "render")
TERMINAL = frozenset({"done", "failed"})

# Public metadata of video.ingested (object keys stay internal).
METADATA_FIELDS: tuple[str, ...] = (
    "duration",
    "width",
    "height",
    "fps",
    "video_codec",
    "audio_codec",
    "container",
    "size",
    "sha256",
    "reused_from",
)

_FAILED_STAGE = {
    "video.ingest_failed": "ingest",
    "transcript.failed": "transcribe",
    "rank.failed": "rank",
    "clip.render_failed": "render",
}
_DONE_STAGE = {
    "video.ingested": "ingest",
    "transcript.completed": "transcribe",
    "clips.ranked": "rank",
    "clip.rendered": "render",
}
_PENDING_STAGE = {"ingest.requested": "ingest", "rank.requested": "rank", "render.requested": "render"}


def _iso(value: datetime | None) -> str | None:
    return value.isoformat() if value is not None else None


def _parse_time(value: Any) -> datetime | None:
    if value is None or isinstance(value, datetime):
        return value
    return datetime.fromisoformat(str(value))


@dataclass(frozen=True)
class Stage:
    status: str = "pending"  # pending | running | done | failed
    percent: float = 0.0
    message: str = ""
    reason_code: str | None = None
    at: datetime | None = None

    def to_json(self) -> dict[str, Any]:
        return {
            "status": self.status,
            "percent": self.percent,
            "message": self.message,
            "reason_code": self.reason_code,
            "at": _iso(self.at),
        }

    @classmethod
    def from_json(cls, raw: dict[str, Any]) -> Stage:
        return cls(
            status=str(raw.get("status", "pending")),
            percent=float(raw.get("percent", 0.0)),
            message=str(raw.get("message", "")),
            reason_code=raw.get("reason_code"),
            at=_parse_time(raw.get("at")),
        )


@dataclass(frozen=True)
class VideoState:
    video_id: str
    tenant_id: str
    project_id: str | None = None
    source: dict[str, Any] | None = None
    options: dict[str, Any] | None = None
    stages: dict[str, Stage] = field(default_factory=dict)
    metadata: dict[str, Any] | None = None
    failure: dict[str, Any] | None = None
    ranker_version: str | None = None
    ranked_at: datetime | None = None
    clip_count: int = 0
    deleted_at: datetime | None = None

    def stage(self, name: str) -> Stage:
        return self.stages.get(name) or Stage()


def _set_stage(
    state: VideoState,
    name: str,
    status: str,
    at: datetime,
    *,
    percent: float | None = None,
    message: str = "",
    failure: dict[str, Any] | None = None,
) -> VideoState:
    current = state.stages.get(name)
    if current is not None and current.at is not None and at < current.at:
        return state  # an older event: the stage already reflects something newer
    if percent is None:
        percent = 100.0 if status == "done" else (current.percent if current and status == "running" else 0.0)
    stage = Stage(
        status=status,
        percent=percent,
        message=message,
        reason_code=failure.get("reason_code") if failure else None,
        at=at,
    )
    stages = {**state.stages, name: stage}
    new_failure = state.failure
    if failure is not None:
        new_failure = {**failure, "stage": name, "at": _iso(at)}
    elif state.failure and state.failure.get("stage") == name:
        new_failure = None  # the stage moved on (retried, re-run): the old failure is resolved
    return replace(state, stages=stages, failure=new_failure)


def apply_event(state: VideoState, event_type: str, data: dict[str, Any], at: datetime) -> VideoState:
    """The state after one event (``data`` is the validated payload as a dict)."""
    if state.deleted_at is not None:
        return state  # tombstoned: nothing brings a deleted video back
    if event_type == "video.deleted":
        return replace(state, deleted_at=at)
    if event_type == "pipeline.progress":
        name = str(data.get("stage", ""))[:32]
        current = state.stages.get(name)
        if not name or (current is not None and current.status in TERMINAL and current.at and at <= current.at):
            return state
        percent = max(0.0, min(100.0, float(data.get("percent", 0.0))))
        return _set_stage(state, name, "running", at, percent=percent, message=str(data.get("message", ""))[:500])
    if event_type == "ingest.requested":
        state = replace(
            state,
            project_id=state.project_id or data.get("project_id"),
            source=state.source or data.get("source"),
            options=state.options or data.get("options"),
        )
    if event_type == "video.ingested":
        state = replace(state, metadata={k: data.get(k) for k in METADATA_FIELDS})
    if event_type == "clips.ranked" and (state.ranked_at is None or at >= state.ranked_at):
        state = replace(
            state, ranker_version=data.get("ranker_version"), ranked_at=at, clip_count=len(data.get("clips") or [])
        )
    if event_type in _PENDING_STAGE:
        return _set_stage(state, _PENDING_STAGE[event_type], "pending", at)
    if event_type in _DONE_STAGE:
        return _set_stage(state, _DONE_STAGE[event_type], "done", at)
    if event_type in _FAILED_STAGE:
        failure: dict[str, Any] = {
            "reason_code": str(data.get("reason_code", "unknown")),
            "message": str(data.get("message", "")),
        }
        if event_type == "clip.render_failed":
            failure.update(clip_id=data.get("clip_id"), preset=data.get("preset"))
        return _set_stage(state, _FAILED_STAGE[event_type], "failed", at, failure=failure)
    return state


def status_of(state: VideoState) -> str:
    """One word for the whole video: queued, processing, ready, failed or deleted.

    ``ready`` means ranked clips are available and no render is queued or running.
    """
    if state.deleted_at is not None:
        return "deleted"
    if any(s.status == "failed" for s in state.stages.values()):
        return "failed"
    core_done = all(state.stage(name).status == "done" for name in STAGES[:3])
    render = state.stages.get("render")
    if core_done and (render is None or render.status in TERMINAL):
        return "ready"
    if all(s.status == "pending" and s.percent == 0 for s in state.stages.values()):
        return "queued"
    return "processing"


def progress_of(state: VideoState) -> float:
    """Mean of the stages' percentages (done counts 100), rounded to 0.1; a ready video is at 100."""
    if status_of(state) == "ready":
        return 100.0
    total = sum(100.0 if state.stage(n).status == "done" else state.stage(n).percent for n in STAGES)
    return round(total / len(STAGES), 1)
