"""Cached views built from read-model rows (pure functions).

A view is what Redis holds under ``view:<kind>:<video_id>``::

    {"tenant_id": ..., "version": <video version it reflects>, "deleted": bool,
     "body": "<the API body, already serialized as JSON>" | null,
     "internal": {...}}   # object keys the routes need but clients never see

The body is validated against its response model and serialized once, when the view is built, so a
cached read sends it without decoding or encoding it. ``version`` lets a writer never replace a view
with an older one.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Any

from pydantic import BaseModel

from clipforge_gateway.api.schemas import (
    ClipList,
    ClipOut,
    RenderList,
    RenderOut,
    VideoLinks,
    VideoOut,
    VideoSummary,
)
from clipforge_gateway.domain.state import STAGES, VideoState, progress_of, status_of
from clipforge_gateway.projections.repository import state_from_row

Row = Mapping[str, Any]


def video_links(video_id: str) -> VideoLinks:
    base = f"/v1/videos/{video_id}"
    return VideoLinks(
        self=base,
        events=f"{base}/events",
        transcript=f"{base}/transcript",
        clips=f"{base}/clips",
        renders=f"{base}/renders",
    )


def envelope(
    tenant_id: str,
    version: int,
    body: BaseModel | None,
    deleted: bool = False,
    internal: dict[str, Any] | None = None,
) -> dict[str, Any]:
    return {
        "tenant_id": tenant_id,
        "version": version,
        "deleted": deleted,
        "body": body.model_dump_json() if body is not None else None,
        "internal": internal or {},
    }


def _stages(state: VideoState) -> dict[str, Any]:
    names = list(STAGES) + [n for n in state.stages if n not in STAGES]
    out: dict[str, Any] = {}
    for name in names:
        stage = state.stage(name)
        out[name] = {
            "status": stage.status,
            "percent": stage.percent,
            "message": stage.message,
            "reason_code": stage.reason_code,
            "updated_at": stage.at,
        }
    return out


def _source(state: VideoState) -> dict[str, Any] | None:
    if not state.source:
        return None
    return {k: state.source.get(k) for k in ("kind", "filename", "url")}


def video_view(video: Row, transcript: Row | None, render_counts: Mapping[str, int]) -> dict[str, Any]:
    state = state_from_row(video)  # type: ignore[arg-type]
    if state.deleted_at is not None:
        return envelope(state.tenant_id, video["version"], None, deleted=True)
    body = VideoOut(
        video_id=state.video_id,
        project_id=state.project_id,
        status=status_of(state),  # type: ignore[arg-type]
        progress=progress_of(state),
        stages=_stages(state),  # type: ignore[arg-type]
        metadata=state.metadata,  # type: ignore[arg-type]
        failure=state.failure,  # type: ignore[arg-type]
        transcript=(
            {
                k: transcript[k]
                for k in (
                    "language",
                    "engine",
                    "engine_version",
                    "word_count",
                    "sentence_count",
                    "duration",
                    "completed_at",
                )
            }
            if transcript is not None
            else None
        ),  # type: ignore[arg-type]
        ranker_version=state.ranker_version,
        clip_count=state.clip_count,
        renders={s: int(render_counts.get(s, 0)) for s in ("pending", "running", "done", "failed")},  # type: ignore[arg-type]
        source=_source(state),  # type: ignore[arg-type]
        version=video["version"],
        created_at=video["created_at"],
        updated_at=video["updated_at"],
        links=video_links(state.video_id),
    )
    internal = {"transcript_key": transcript["transcript_key"] if transcript is not None else None}
    return envelope(state.tenant_id, video["version"], body, internal=internal)


def video_summary(video: Row) -> VideoSummary:
    state = state_from_row(video)  # type: ignore[arg-type]
    return VideoSummary(
        video_id=state.video_id,
        project_id=state.project_id,
        status=status_of(state),  # type: ignore[arg-type]
        progress=progress_of(state),
        source=_source(state),  # type: ignore[arg-type]
        created_at=video["created_at"],
        updated_at=video["updated_at"],
    )


def clips_view(header: Row, video_id: str, clips: Sequence[Row]) -> dict[str, Any]:
    if header["deleted_at"] is not None:
        return envelope(header["tenant_id"], header["version"], None, deleted=True)
    body = ClipList(
        video_id=video_id,
        ranker_version=header["ranker_version"],
        clips=[
            ClipOut(
                clip_id=c["clip_id"],
                rank=c["rank"],
                start=c["start_s"],
                end=c["end_s"],
                duration=round(c["end_s"] - c["start_s"], 3),
                score=c["score"],
                features=c["features"] or {},
                reasons=c["reasons"] or [],
                title=c["title"],
                hook=c["hook"],
                ranker_version=c["ranker_version"],
            )
            for c in clips
        ],
    )
    return envelope(header["tenant_id"], header["version"], body)


FILE_KEYS: dict[str, str] = {"video": "video_key", "thumbnail": "thumbnail_key", "srt": "srt_key", "vtt": "vtt_key"}


def render_out(r: Row) -> RenderOut:
    base = f"/v1/videos/{r['video_id']}/renders/{r['render_id']}/download"
    files = {name: f"{base}?file={name}" for name, column in FILE_KEYS.items() if r[column]}
    return RenderOut(
        render_id=r["render_id"],
        video_id=r["video_id"],
        clip_id=r["clip_id"],
        preset=r["preset"],
        caption_style=r["caption_style"] or {},
        status=r["status"],
        duration=r["duration"],
        width=r["width"],
        height=r["height"],
        size=r["size"],
        failure=r["failure"],  # type: ignore[arg-type]
        files=files,  # type: ignore[arg-type]
        created_at=r["created_at"],
        updated_at=r["updated_at"],
    )


def renders_view(header: Row, video_id: str, renders: Sequence[Row]) -> dict[str, Any]:
    if header["deleted_at"] is not None:
        return envelope(header["tenant_id"], header["version"], None, deleted=True)
    body = RenderList(video_id=video_id, renders=[render_out(r) for r in renders])
    keys = {r["render_id"]: {name: r[col] for name, col in FILE_KEYS.items() if r[col]} for r in renders}
    return envelope(header["tenant_id"], header["version"], body, internal={"keys": keys})
