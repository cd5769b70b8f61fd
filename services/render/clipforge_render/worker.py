"""Render jobs: source + transcript from S3 -> :func:`render_clip` in a thread (ffmpeg subprocesses,
progress published) -> mp4/jpg/srt/vtt streamed to ``clips/<clip_id>/<preset>.*`` -> the render row
and ``clip.rendered`` (or ``clip.render_failed``) in one transaction. Also the purge job that deletes
a deleted video's clip objects."""

from __future__ import annotations

import hashlib
import json
import tempfile
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from pathlib import Path, PurePosixPath
from typing import Any

import asyncpg
import structlog
from clipforge_common.consumer import emit_answer
from clipforge_common.envelope import Envelope
from clipforge_common.events import ClipRendered, ClipRenderFailed, RankedClipData
from clipforge_common.ffmpeg import MediaToolError
from clipforge_common.jobs import Job, JobFailed, JobKind, cancellable_thread, retry_or_fail
from clipforge_common.service import ServiceRuntime
from clipforge_common.storage import ObjectNotFound, clip_key, transcript_key
from clipforge_common.tombstones import is_deleted
from clipforge_common.transcript import Transcript
from pydantic import ValidationError

from clipforge_render import repository
from clipforge_render.config import RenderConfig
from clipforge_render.domain import CaptionStyle, RenderOutputs, render_clip

log = structlog.get_logger(__name__)

RENDER_JOB = "render"
PURGE_JOB = "purge"

# Output files of a render and their content types, by extension.
OUTPUT_TYPES: dict[str, str] = {
    "mp4": "video/mp4",
    "jpg": "image/jpeg",
    "srt": "application/x-subrip",
    "vtt": "text/vtt",
}


# ----------------------------------------------------------------------------------- pure helpers


def style_hash(style: CaptionStyle) -> str:
    """Short stable hash of a caption style (field order does not matter)."""
    blob = json.dumps(style.model_dump(mode="json"), sort_keys=True, separators=(",", ":"))
    return hashlib.sha256(blob.encode()).hexdigest()[:12]


def render_key(clip_id: str, preset: str, style: CaptionStyle) -> str:
    """Identity of one output: the same clip, preset and style is rendered once."""
    return f"{clip_id}:{preset}:{style_hash(style)}"


def best_clips(clips: Sequence[RankedClipData], top_k: int) -> list[RankedClipData]:
    """The ``top_k`` best clips (highest score; the event's order breaks ties)."""
    order = sorted(range(len(clips)), key=lambda i: (-clips[i].score, i))
    return [clips[i] for i in order[: max(0, top_k)]]


def render_payload(key: str, generation: int, clip_id: str, preset: str, style: CaptionStyle) -> dict[str, Any]:
    return {
        "render_key": key,
        "generation": generation,
        "clip_id": clip_id,
        "preset": preset,
        "style": style.model_dump(mode="json"),
    }


def output_keys(clip_id: str, preset: str) -> dict[str, str]:
    """Object key of each output file (``clips/<clip_id>/<preset>.<ext>``)."""
    return {ext: clip_key(clip_id, preset, ext) for ext in OUTPUT_TYPES}


def rendered_facts(clip_id: str, preset: str, outputs: RenderOutputs) -> dict[str, Any]:
    """What ``clip.rendered`` reports about a finished render (without the render id)."""
    keys = output_keys(clip_id, preset)
    return {
        "clip_id": clip_id,
        "preset": preset,
        "video_key": keys["mp4"],
        "thumbnail_key": keys["jpg"],
        "srt_key": keys["srt"],
        "vtt_key": keys["vtt"],
        "duration": outputs.duration,
        "width": outputs.width,
        "height": outputs.height,
        "size": outputs.size,
    }


def source_suffix(source_key: str) -> str:
    """The source's extension (ffmpeg and OpenCV pick demuxers by it); ``.bin`` when it has none."""
    return PurePosixPath(source_key).suffix or ".bin"


def media_failure(exc: MediaToolError) -> JobFailed:
    tail = (exc.stderr_tail or "").strip().splitlines()[-3:]
    detail = f" ({' | '.join(tail)})" if tail else ""
    return JobFailed("render_failed", f"ffmpeg could not render the clip{detail}.")


@dataclass(frozen=True)
class ClipSpan:
    """What render_clip needs of a clip (see clipforge_render.domain.ClipLike)."""

    clip_id: str
    start: float
    end: float
    title: str = ""


def render_with(
    config: RenderConfig,
    source: Path,
    clip: ClipSpan | RankedClipData,
    transcript: Transcript,
    preset: str,
    style: CaptionStyle,
    out_dir: Path,
    on_progress: Callable[[float], None] | None = None,
) -> RenderOutputs:
    """The render a job runs (blocking: call it in a thread), with this service's settings."""
    return render_clip(
        source,
        clip,
        transcript.words,
        config.preset(preset),
        style,
        out_dir,
        on_progress=on_progress,
        transcript=transcript,
        reframe_config=config.reframe(),
        face_tracking=config.face_tracking,
        timeout=config.render_timeout_seconds,
    )


async def answer(
    conn: asyncpg.Connection,
    render_key: str,
    event_type: str,
    facts: dict[str, Any],
    *,
    producer: str,
) -> int:
    """Answer every request still waiting for ``render_key``, each in its own correlation."""
    waiting = await repository.take_waiting(conn, render_key)
    for row in waiting:
        data = {**facts, "render_id": row["render_id"]}
        model = ClipRendered(**data) if event_type == "clip.rendered" else ClipRenderFailed(**data)
        await emit_answer(conn, Envelope.model_validate(row["cause"]), event_type, model, producer=producer)
    return len(waiting)


# ------------------------------------------------------------------------------------------ worker


class RenderWorker:
    def __init__(self, runtime: ServiceRuntime, config: RenderConfig) -> None:
        self.runtime = runtime
        self.config = config

    def job_kinds(self) -> list[JobKind]:
        return [
            JobKind(RENDER_JOB, self.run, self.commit, self.fail),
            JobKind(PURGE_JOB, self.purge, self._nothing, self._purge_failed),
        ]

    @property
    def _pool(self) -> asyncpg.Pool:
        assert self.runtime.pool is not None
        return self.runtime.pool

    def _work_dir(self) -> Path | None:
        if self.config.work_dir is None:
            return None
        path = Path(self.config.work_dir)
        path.mkdir(parents=True, exist_ok=True)
        return path

    async def run(self, job: Job) -> dict[str, Any]:
        cause = job.cause
        payload = job.payload
        clip_id, preset = payload["clip_id"], payload["preset"]
        style = CaptionStyle.model_validate(payload["style"])
        async with self._pool.acquire() as conn:
            if await is_deleted(conn, cause.video_id):
                return {"skipped": "video_deleted"}
            row = await repository.clip(conn, clip_id)
            video = await repository.video(conn, cause.video_id)
        if row is None or row["video_id"] != cause.video_id:
            # Its clips.ranked may still be on its way (another topic): wait a few attempts.
            raise retry_or_fail(job, "unknown_clip", f"Clip {clip_id} is not a ranked clip of this video.")
        clip = ClipSpan(clip_id, float(row["start_s"]), float(row["end_s"]), row["title"] or "")
        source_key = (video and video["source_key"]) or await self._find_source(cause.video_id)
        if source_key is None:
            raise retry_or_fail(
                job, "source_not_found", "The source video of this clip is not stored (was it ingested?)."
            )
        words_key = (video and video["transcript_key"]) or transcript_key(cause.video_id)

        report = self.runtime.progress(cause, "render", clip_id=clip_id)
        report(0.0, "downloading the source")
        with tempfile.TemporaryDirectory(prefix=f"clipforge-render-{clip_id[:8]}-", dir=self._work_dir()) as tmp:
            work = Path(tmp)
            source = work / f"source{source_suffix(source_key)}"
            try:
                await self.runtime.store.download_file(source_key, source)
            except ObjectNotFound as exc:
                raise JobFailed("source_not_found", f"The source {source_key} is missing from storage.") from exc
            try:
                raw = await self.runtime.store.get_bytes(words_key)
            except ObjectNotFound as exc:
                raise JobFailed("transcript_not_found", f"The transcript {words_key} is missing from storage.") from exc
            try:
                transcript = Transcript.model_validate_json(raw)
            except ValidationError as exc:
                raise JobFailed("invalid_transcript", f"The transcript {words_key} cannot be read: {exc}") from exc
            report(0.05, "rendering")
            try:
                # Cancellable: on shutdown the thread stops (and kills ffmpeg) at its next progress report.
                outputs = await cancellable_thread(
                    lambda progress: render_with(
                        self.config, source, clip, transcript, preset, style, work / "out", progress
                    ),
                    lambda f: report(0.05 + 0.85 * f, "rendering"),
                )
            except MediaToolError as exc:
                raise media_failure(exc) from exc
            except ValueError as exc:
                raise JobFailed("clip_out_of_range", str(exc)) from exc
            report(0.9, "uploading")
            await self._upload(clip_id, preset, outputs)
        async with self._pool.acquire() as conn:
            deleted = await is_deleted(conn, cause.video_id)
        if deleted:  # deleted while rendering: the purge job may already have run
            await self.runtime.store.delete_prefix(f"clips/{clip_id}/")
            return {"skipped": "video_deleted"}
        report(1.0, "rendered")
        return {"outputs": rendered_facts(clip_id, preset, outputs)}

    async def _find_source(self, video_id: str) -> str | None:
        """The source key from the object store, for a clip read before its video.ingested."""
        keys = await self.runtime.store.list_keys(f"videos/{video_id}/source.")
        return keys[0] if keys else None

    async def _upload(self, clip_id: str, preset: str, outputs: RenderOutputs) -> None:
        files = {
            "mp4": outputs.video_path,
            "jpg": outputs.thumbnail_path,
            "srt": outputs.srt_path,
            "vtt": outputs.vtt_path,
        }
        keys = output_keys(clip_id, preset)
        for ext, path in files.items():
            if path is None:  # no words in the clip: empty caption files keep the keys valid
                path = outputs.video_path.with_suffix(f".{ext}")
                path.write_text("WEBVTT\n\n" if ext == "vtt" else "", "utf-8")
            # Streamed multipart upload: a long clip is never held in memory.
            await self.runtime.store.upload_file(path, keys[ext], OUTPUT_TYPES[ext])

    async def commit(self, conn: asyncpg.Connection, job: Job, result: dict[str, Any]) -> None:
        if result.get("skipped"):
            return
        key, generation = job.payload["render_key"], int(job.payload["generation"])
        if await repository.finish_render(conn, key, generation, result["outputs"]) is None:
            log.warning("render result dropped: the render was forgotten or re-queued", render_key=key)
            return
        await answer(conn, key, "clip.rendered", result["outputs"], producer=self.runtime.producer)

    async def fail(self, conn: asyncpg.Connection, job: Job, reason_code: str, message: str) -> None:
        key, generation = job.payload["render_key"], int(job.payload["generation"])
        if await repository.fail_render(conn, key, generation, reason_code, message) is None:
            return
        facts = {"clip_id": job.payload["clip_id"], "preset": job.payload["preset"]}
        await answer(
            conn,
            key,
            "clip.render_failed",
            {**facts, "reason_code": reason_code, "message": message},
            producer=self.runtime.producer,
        )

    # ----------------------------------------------------------------------------------- purge

    async def purge(self, job: Job) -> dict[str, Any]:
        deleted = 0
        for clip_id in job.payload.get("clip_ids", []):
            deleted += await self.runtime.store.delete_prefix(f"clips/{clip_id}/")
        return {"deleted_objects": deleted}

    async def _nothing(self, conn: asyncpg.Connection, job: Job, result: dict[str, Any]) -> None:
        log.info("clip objects of a deleted video removed", **result)

    async def _purge_failed(self, conn: asyncpg.Connection, job: Job, reason_code: str, message: str) -> None:
        log.error("clip objects of a deleted video could not be removed", reason_code=reason_code, error=message)
