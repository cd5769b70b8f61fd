"""Job kinds of the ingest service.

``ingest``: fetch the source (the uploaded object, or a URL through the SSRF guard) into a scratch
directory, recognise a source already ingested into the same project (same sha256), otherwise
validate it and extract 16 kHz mono audio with the domain core, store the objects and answer
``video.ingested`` — or ``video.ingest_failed`` with the domain's reason code, leaving no objects
behind but the uploaded source.

``purge``: remove the objects of a deleted video.

Duplicate sources: the later video gets its own ``audio.wav`` by a server-side S3 copy of the
earlier one (no download, no ffmpeg) and ``reused_from`` names the earlier video; transcribe then
copies the earlier transcript instead of running ASR again. Copying (rather than pointing at the
earlier video's keys) keeps every video's objects under its own prefix, so deleting one video never
breaks another.
"""

from __future__ import annotations

import contextlib
import hashlib
import mimetypes
import tempfile
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path, PurePosixPath
from typing import Any, TypeVar
from urllib.parse import urlsplit

import asyncpg
import structlog
from botocore.exceptions import ClientError
from clipforge_common.consumer import emit_answer
from clipforge_common.envelope import Envelope
from clipforge_common.events import IngestRequested, VideoIngested, VideoIngestFailed
from clipforge_common.ffmpeg import MediaToolError
from clipforge_common.jobs import (
    Job,
    JobFailed,
    JobKind,
    cancellable_thread,
    retry_or_fail,
)
from clipforge_common.storage import video_audio_key, video_source_key
from clipforge_common.tombstones import is_deleted

from clipforge_ingest import repository
from clipforge_ingest.config import IngestConfig
from clipforge_ingest.domain import (
    DownloadResult,
    IngestRejected,
    MediaInfo,
    UrlRefused,
    download_with_ytdlp,
    ingest_file,
    safe_download,
)

log = structlog.get_logger(__name__)

INGEST_JOB = "ingest"
PURGE_JOB = "purge"

# URL failures that may succeed on a later attempt (network trouble); the rest are the user's to fix.
_TRANSIENT_URL_CODES = frozenset({"download_failed", "unresolvable"})
_HTML_TYPES = ("text/html", "application/xhtml+xml")
# Container (ffprobe format_name, first entry) -> file extension for the stored source.
_CONTAINER_EXT = {
    "mov": "mp4",
    "matroska": "mkv",
    "webm": "webm",
    "mp3": "mp3",
    "wav": "wav",
    "ogg": "ogg",
    "flac": "flac",
    "aac": "aac",
    "avi": "avi",
    "mpegts": "ts",
    "flv": "flv",
}
_MEDIA_EXTS = frozenset(
    {"mp4", "m4v", "mov", "mkv", "webm", "avi", "ts", "flv", "mp3", "m4a", "aac", "wav", "ogg", "opus", "flac"}
)
# Share of the progress bar: fetching, then validating + hashing + extracting, then storing.
_FETCH_END = 0.3
_EXTRACT_END = 0.9
INTERNAL_ERROR_MESSAGE = (
    "Ingest failed because of an internal error. Try again later; if it keeps failing, contact support."
)

Progress = Callable[..., None]
T = TypeVar("T")


# ----------------------------------------------------------------------------------------- helpers


def scaled(progress: Progress, lo: float, hi: float) -> Callable[[float], None]:
    """Map a sub-step's fraction 0..1 onto [lo, hi] of the whole job's progress."""
    return lambda fraction: progress(lo + (hi - lo) * min(max(fraction, 0.0), 1.0))


def download_fraction(done: int, total: int | None) -> float:
    """Fraction of a download; without a Content-Length it creeps towards 1 and never reaches it."""
    if total:
        return min(1.0, done / total)
    return done / (done + 64 * 1024 * 1024)


def source_extension(*, url: str | None = None, content_type: str | None = None, container: str | None = None) -> str:
    """Extension for a stored source: the URL's media suffix, else the container, else the content type."""
    if url:
        suffix = PurePosixPath(urlsplit(url).path).suffix.lower().lstrip(".")
        if suffix in _MEDIA_EXTS:
            return suffix
    if container:
        first = container.split(",")[0].strip().lower()
        if first in _CONTAINER_EXT:
            return _CONTAINER_EXT[first]
    if content_type:
        guessed = mimetypes.guess_extension(content_type.split(";")[0].strip().lower())
        if guessed and guessed.lstrip(".") in _MEDIA_EXTS:
            return guessed.lstrip(".")
    return "bin"


def is_html(content_type: str | None) -> bool:
    return bool(content_type) and content_type.split(";")[0].strip().lower() in _HTML_TYPES  # type: ignore[union-attr]


def source_problem(request: IngestRequested, video_id: str) -> str | None:
    """Why the request's source can never be ingested (a message for the user), or None."""
    source = request.source
    if source.kind == "upload":
        key = source.key or ""
        # The gateway uploads to videos/<video_id>/source.<ext>; anything else is not this video's upload.
        if not key.startswith(f"videos/{video_id}/") or ".." in PurePosixPath(key).parts:
            return "The upload reference is not valid for this video. Upload the file again."
        return None
    if not (source.url or "").strip():
        return "No URL was given to import. Send the http(s) link of the video."
    return None


def ingested_payload(
    media: MediaInfo, *, sha256: str, source_key: str, audio_key: str, reused_from: str | None = None
) -> VideoIngested:
    return VideoIngested(
        duration=round(media.duration, 3),
        width=media.width,
        height=media.height,
        fps=media.fps,
        video_codec=media.video_codec,
        audio_codec=media.audio_codec,
        container=media.container,
        size=media.size,
        sha256=sha256,
        source_key=source_key,
        audio_key=audio_key,
        reused_from=reused_from,
    )


@dataclass
class FetchedSource:
    path: Path
    size: int
    sha256: str
    # The upload's key (already in S3), or None for a URL import (stored once accepted).
    stored_key: str | None
    url: str | None = None
    content_type: str | None = None


# ------------------------------------------------------------------------------------------ worker


class IngestWorker:
    """Runs ``ingest`` and ``purge`` jobs for a :class:`~clipforge_common.service.ServiceRuntime`."""

    def __init__(self, runtime: Any, config: IngestConfig) -> None:
        self.runtime = runtime
        self.config = config
        self.store = runtime.store
        self.limits = config.limits()
        self.resolver = config.resolver()

    def job_kinds(self) -> list[JobKind]:
        return [
            JobKind(INGEST_JOB, self.run, self.commit, self.fail),
            JobKind(PURGE_JOB, self.purge, self._purged, self._purge_failed),
        ]

    # ------------------------------------------------------------------ ingest

    async def run(self, job: Job) -> dict[str, Any]:
        cause = job.cause
        request = IngestRequested.model_validate(cause.data)
        keep = request.source.key if request.source.kind == "upload" else None
        progress = self.runtime.progress(cause, "ingest")
        try:
            with tempfile.TemporaryDirectory(prefix="clipforge-ingest-", dir=self.config.work_dir) as tmp:
                try:
                    return await self._ingest(job, cause, request, Path(tmp), progress)
                except JobFailed:
                    await self.remove_partial(cause.video_id, keep=keep)
                    raise
        finally:
            await progress.flush()

    async def _ingest(
        self, job: Job, cause: Envelope, request: IngestRequested, tmp: Path, progress: Progress
    ) -> dict[str, Any]:
        video_id = cause.video_id
        progress(0.0, "fetching the source")
        if request.source.kind == "upload":
            fetched = await self._fetch_upload(request.source.key or "", tmp, scaled(progress, 0.0, _FETCH_END))
        else:
            fetched = await self._fetch_url(job, request.source.url or "", tmp, scaled(progress, 0.0, _FETCH_END))

        original = await repository.find_original(
            self.runtime.pool,
            tenant_id=cause.tenant_id,
            project_id=request.project_id,
            sha256=fetched.sha256,
            exclude_video=video_id,
        )
        payload = None
        if original is not None:
            payload = await self._reuse(video_id, fetched, original)
        if payload is None:
            progress(_FETCH_END, "checking and extracting the audio")
            try:
                result = await cancellable_thread(
                    lambda report: ingest_file(fetched.path, tmp, self.limits, report),
                    scaled(progress, _FETCH_END, _EXTRACT_END),
                )
            except IngestRejected as exc:
                raise JobFailed(exc.reason_code, exc.message) from exc
            except MediaToolError as exc:
                raise retry_or_fail(
                    job, "extraction_failed", "The audio could not be extracted from this file. Try again later."
                ) from exc
            progress(_EXTRACT_END, "storing")
            source_key = fetched.stored_key or await self._store_source(
                video_id, fetched, source_extension(url=fetched.url, container=result.media.container)
            )
            audio_key = video_audio_key(video_id)
            await self.store.upload_file(result.audio_path, audio_key, content_type="audio/wav")
            payload = ingested_payload(result.media, sha256=fetched.sha256, source_key=source_key, audio_key=audio_key)
        progress(1.0, "ingested")

        # Deleted while we worked: the purge may already have run, so take back what we stored.
        if await is_deleted(self.runtime.pool, video_id):
            await self.remove_partial(video_id, keep=None)
            raise JobFailed("video_deleted", "The video was deleted while it was being ingested.")
        return {"payload": payload.model_dump(mode="json"), "project_id": request.project_id}

    async def _fetch_upload(self, key: str, tmp: Path, report: Callable[[float], None]) -> FetchedSource:
        head = await self.store.head(key)
        if head is None:
            raise JobFailed("missing_file", "The uploaded file could not be found. Upload it again.")
        size = int(head.get("ContentLength") or 0)
        if size > self.limits.max_size_bytes:
            raise JobFailed(
                "too_large",
                f"The file is {size / 1024**2:.0f} MB; the limit is {self.limits.max_size_bytes / 1024**2:.0f} MB. "
                "Upload a shorter video or export it at a lower bitrate.",
            )
        path = tmp / f"source{PurePosixPath(key).suffix}"
        digest = hashlib.sha256()
        done = 0
        # Stream to disk, hashing on the way: the duplicate check needs no second read.
        with path.open("wb") as fh:
            async for block in self.store.iter_bytes(key, chunk=1024 * 1024):
                fh.write(block)
                digest.update(block)
                done += len(block)
                report(download_fraction(done, size))
        return FetchedSource(path=path, size=done, sha256=digest.hexdigest(), stored_key=key)

    async def _fetch_url(self, job: Job, url: str, tmp: Path, report: Callable[[float], None]) -> FetchedSource:
        config = self.config
        dest = tmp / "download"

        def download(progress: Callable[[float], None]) -> DownloadResult:
            common: dict[str, Any] = {
                "max_bytes": self.limits.max_size_bytes,
                "resolver": self.resolver,
                "allow_private": config.allow_private_urls,
                "allowed_networks": config.allowed_networks,
                "on_progress": lambda done, total: progress(download_fraction(done, total)),
            }
            result = safe_download(url, dest, timeout=config.download_timeout_s, **common)
            if config.use_ytdlp and is_html(result.content_type):
                # A web page, not media: let yt-dlp find the video on it (every hop is checked again).
                result.path.unlink(missing_ok=True)
                _media, result = download_with_ytdlp(url, dest, **common)
            return result

        try:
            result = await cancellable_thread(download, report)
        except UrlRefused as exc:
            if exc.reason_code in _TRANSIENT_URL_CODES:
                raise retry_or_fail(job, exc.reason_code, exc.message) from exc
            raise JobFailed(exc.reason_code, exc.message) from exc
        return FetchedSource(
            path=result.path,
            size=result.size,
            sha256=result.sha256,
            stored_key=None,
            url=result.final_url,
            content_type=result.content_type,
        )

    async def _store_source(self, video_id: str, fetched: FetchedSource, ext: str) -> str:
        key = video_source_key(video_id, ext)
        await self.store.upload_file(fetched.path, key, content_type=fetched.content_type)
        return key

    async def _reuse(self, video_id: str, fetched: FetchedSource, original: asyncpg.Record) -> VideoIngested | None:
        """Answer with the earlier video's results; None when they are gone (then process normally)."""
        earlier = VideoIngested.model_validate(original["info"])
        audio_key = video_audio_key(video_id)
        if not await self._copy_object(original["audio_key"], audio_key):
            log.info("earlier audio missing; processing the duplicate", original=original["video_id"])
            return None
        source_key = fetched.stored_key or await self._store_source(
            video_id, fetched, source_extension(url=fetched.url, container=earlier.container)
        )
        log.info("duplicate source reused", original=original["video_id"], sha256=fetched.sha256)
        return earlier.model_copy(
            update={
                "size": fetched.size,
                "sha256": fetched.sha256,
                "source_key": source_key,
                "audio_key": audio_key,
                "reused_from": original["video_id"],
            }
        )

    async def _copy_object(self, src: str, dest: str) -> bool:
        """Server-side copy (no bytes through this process); False when ``src`` does not exist."""
        async with self.store.client() as s3:
            try:
                await s3.copy_object(
                    Bucket=self.store.bucket, Key=dest, CopySource={"Bucket": self.store.bucket, "Key": src}
                )
            except ClientError as exc:
                if str(exc.response.get("Error", {}).get("Code")) in {"404", "NoSuchKey", "NotFound"}:
                    return False
                raise
        return True

    async def remove_partial(self, video_id: str, *, keep: str | None) -> int:
        """Delete the video's objects except ``keep`` (the upload, which is the user's, not ours)."""
        removed = 0
        for key in await self.store.list_keys(f"videos/{video_id}/"):
            if key != keep:
                await self.store.delete(key)
                removed += 1
        return removed

    async def commit(self, conn: asyncpg.Connection, job: Job, result: dict[str, Any]) -> None:
        payload = VideoIngested.model_validate(result["payload"])
        await repository.mark_ingested(
            conn,
            video_id=job.cause.video_id,
            sha256=payload.sha256,
            source_key=payload.source_key,
            audio_key=payload.audio_key,
            reused_from=payload.reused_from,
            info=payload.model_dump(mode="json"),
        )
        await emit_answer(conn, job.cause, "video.ingested", payload, producer=self.runtime.producer)

    async def fail(self, conn: asyncpg.Connection, job: Job, reason_code: str, message: str) -> None:
        cause = job.cause
        if reason_code == "internal_error":
            # The worker's message is an exception for the logs, not something a user can act on.
            log.error("ingest failed after retries", error=message)
            message = INTERNAL_ERROR_MESSAGE
            request = IngestRequested.model_validate(cause.data)
            keep = request.source.key if request.source.kind == "upload" else None
            with contextlib.suppress(Exception):  # best effort: never lose the failure event over it
                await self.remove_partial(cause.video_id, keep=keep)
        await repository.mark_failed(conn, video_id=cause.video_id, reason_code=reason_code, message=message)
        await emit_answer(
            conn,
            cause,
            "video.ingest_failed",
            VideoIngestFailed(reason_code=reason_code, message=message),
            producer=self.runtime.producer,
        )

    # ------------------------------------------------------------------ purge

    async def purge(self, job: Job) -> dict[str, Any]:
        removed = await self.store.delete_prefix(f"videos/{job.cause.video_id}/")
        return {"removed": removed}

    async def _purged(self, conn: asyncpg.Connection, job: Job, result: dict[str, Any]) -> None:
        log.info("deleted video purged", removed=result.get("removed"))

    async def _purge_failed(self, conn: asyncpg.Connection, job: Job, reason_code: str, message: str) -> None:
        log.error("purge of a deleted video failed; objects remain", reason_code=reason_code, error=message)
