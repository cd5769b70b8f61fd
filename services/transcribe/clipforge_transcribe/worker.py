"""Job kinds of the transcribe service.

``transcribe``: download the video's 16 kHz WAV, run the configured ASR engine in a worker thread
(chunked, bounded memory, progress events), store ``transcripts/<video_id>.json`` and answer
``transcript.completed`` — or ``transcript.failed`` with a reason code.

A video whose source duplicates an earlier one (``reused_from`` in ``video.ingested``) gets a copy of
the earlier video's transcript (with its own video id) instead of a second ASR run; the event names
the engine that actually produced it. When the earlier transcript is not available (not finished yet,
failed or deleted) the audio is transcribed as usual.

``purge``: remove the transcript of a deleted video.
"""

from __future__ import annotations

import contextlib
import tempfile
import threading
import time
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any, TypeVar

import asyncpg
import structlog
from clipforge_common.consumer import emit_answer
from clipforge_common.events import TranscriptCompleted, TranscriptFailed, VideoIngested
from clipforge_common.jobs import (
    Job,
    JobFailed,
    JobKind,
    cancellable_thread,
    retry_or_fail,
)
from clipforge_common.storage import ObjectNotFound, transcript_key
from clipforge_common.tombstones import is_deleted
from clipforge_common.transcript import Transcript

from clipforge_transcribe import repository
from clipforge_transcribe.config import TranscribeConfig
from clipforge_transcribe.domain import (
    AsrEngine,
    AudioFormatError,
    EngineError,
    FileEngine,
    make_engine,
    transcribe_audio,
)

log = structlog.get_logger(__name__)

TRANSCRIBE_JOB = "transcribe"
PURGE_JOB = "purge"
# Share of the progress bar: download the audio, recognise speech, store the transcript.
_DOWNLOAD_END = 0.05
_ASR_END = 0.97
INTERNAL_ERROR_MESSAGE = (
    "Transcription failed because of an internal error. Try again later; if it keeps failing, contact support."
)

Engine = AsrEngine | FileEngine
Progress = Callable[..., None]
T = TypeVar("T")


def scaled(progress: Progress, lo: float, hi: float) -> Callable[[float], None]:
    """Map a sub-step's fraction 0..1 onto [lo, hi] of the whole job's progress."""
    return lambda fraction: progress(lo + (hi - lo) * min(max(fraction, 0.0), 1.0))


def summarize(transcript: Transcript, key: str) -> TranscriptCompleted:
    """The ``transcript.completed`` payload of a stored transcript."""
    return TranscriptCompleted(
        transcript_key=key,
        engine=transcript.engine,
        engine_version=transcript.engine_version,
        language=transcript.language,
        word_count=len(transcript.words),
        sentence_count=len(transcript.sentences),
        duration=transcript.duration,
    )


def retarget(raw: bytes, video_id: str) -> Transcript:
    """An earlier video's transcript JSON as the transcript of ``video_id`` (same words and timings)."""
    return Transcript.model_validate_json(raw).model_copy(update={"video_id": video_id})


class EnginePool:
    """ASR engines for worker threads: engines are not thread-safe and slow to build (the decoder loads
    its model), so each concurrent job borrows its own and returns it for the next job."""

    def __init__(self, factory: Callable[[], Engine]) -> None:
        self._factory = factory
        self._idle: list[Engine] = []
        self._lock = threading.Lock()

    @contextlib.contextmanager
    def lease(self) -> Iterator[Engine]:
        with self._lock:
            engine = self._idle.pop() if self._idle else None
        if engine is None:
            engine = self._factory()
        # An engine that raised may be mid-utterance; only a clean one goes back to the pool.
        yield engine
        with self._lock:
            self._idle.append(engine)

    def warm(self) -> None:
        """Build one engine now, so a misconfigured engine stops the service at start-up."""
        with self.lease():
            pass

    @property
    def idle(self) -> int:
        return len(self._idle)


def engine_pool(config: TranscribeConfig) -> EnginePool:
    options = config.engine_options()
    return EnginePool(lambda: make_engine(config.engine, **options))


class TranscribeWorker:
    """Runs ``transcribe`` and ``purge`` jobs for a :class:`~clipforge_common.service.ServiceRuntime`."""

    def __init__(self, runtime: Any, config: TranscribeConfig, engines: EnginePool) -> None:
        self.runtime = runtime
        self.config = config
        self.store = runtime.store
        self.engines = engines

    def job_kinds(self) -> list[JobKind]:
        return [
            JobKind(TRANSCRIBE_JOB, self.run, self.commit, self.fail),
            JobKind(PURGE_JOB, self.purge, self._purged, self._purge_failed),
        ]

    # ------------------------------------------------------------------ transcribe

    async def run(self, job: Job) -> dict[str, Any]:
        cause = job.cause
        video_id = cause.video_id
        ingested = VideoIngested.model_validate(cause.data)
        key = transcript_key(video_id)
        progress = self.runtime.progress(cause, "transcribe")
        try:
            progress(0.0, "starting")
            summary: TranscriptCompleted | None = None
            copied_from = None
            if ingested.reused_from:
                summary = await self._copy_earlier(cause.tenant_id, video_id, ingested.reused_from, key)
                copied_from = ingested.reused_from if summary is not None else None
            if summary is None:
                transcript = await self._transcribe(job, video_id, ingested.audio_key, progress)
                # Small (tens of bytes per word) and written once: put whole rather than multipart.
                await self.store.put_bytes(key, transcript.model_dump_json().encode(), content_type="application/json")
                summary = summarize(transcript, key)
            progress(1.0, "transcribed")
            # Deleted while we worked: the purge may already have run, so take back what we stored.
            if await is_deleted(self.runtime.pool, video_id):
                await self.store.delete(key)
                raise JobFailed("video_deleted", "The video was deleted while it was being transcribed.")
            return {"summary": summary.model_dump(mode="json"), "copied_from": copied_from}
        finally:
            await progress.flush()

    async def _transcribe(self, job: Job, video_id: str, audio_key: str, progress: Progress) -> Transcript:
        with tempfile.TemporaryDirectory(prefix="clipforge-transcribe-", dir=self.config.work_dir) as tmp:
            wav = Path(tmp) / "audio.wav"
            try:
                await self.store.download_file(audio_key, wav)
            except ObjectNotFound as exc:
                raise JobFailed(
                    "audio_missing", "The extracted audio of this video is missing. Upload the video again."
                ) from exc
            progress(_DOWNLOAD_END, "recognising speech")

            def recognise(report: Callable[[float], None]) -> Transcript:
                with self.engines.lease() as engine:
                    return transcribe_audio(
                        wav,
                        engine,
                        on_progress=report,
                        chunk_seconds=self.config.chunk_seconds,
                        language=self.config.language,
                        video_id=video_id,
                    )

            began = time.perf_counter()
            try:
                transcript = await cancellable_thread(recognise, scaled(progress, _DOWNLOAD_END, _ASR_END))
            except AudioFormatError as exc:
                raise JobFailed(
                    "bad_audio", "The extracted audio is not 16 kHz mono PCM. Upload the video again."
                ) from exc
            except EngineError as exc:
                if exc.retryable:
                    raise retry_or_fail(job, exc.reason_code, exc.message) from exc
                raise JobFailed(exc.reason_code, exc.message) from exc
            elapsed = time.perf_counter() - began
            log.info(
                "speech recognised",
                engine=transcript.engine,
                audio_seconds=transcript.duration,
                asr_seconds=round(elapsed, 3),
                rtf=round(elapsed / transcript.duration, 4) if transcript.duration else None,
                words=len(transcript.words),
            )
            return transcript

    async def _copy_earlier(self, tenant_id: str, video_id: str, earlier: str, key: str) -> TranscriptCompleted | None:
        row = await repository.get_done(self.runtime.pool, video_id=earlier, tenant_id=tenant_id)
        if row is None or not row["transcript_key"]:
            log.info("earlier transcript not available; transcribing the duplicate", earlier=earlier)
            return None
        try:
            raw = await self.store.get_bytes(row["transcript_key"])
        except ObjectNotFound:
            return None
        transcript = retarget(raw, video_id)
        await self.store.put_bytes(key, transcript.model_dump_json().encode(), content_type="application/json")
        log.info("transcript copied from an identical source", earlier=earlier)
        return summarize(transcript, key)

    async def commit(self, conn: asyncpg.Connection, job: Job, result: dict[str, Any]) -> None:
        summary = TranscriptCompleted.model_validate(result["summary"])
        await repository.mark_done(
            conn, video_id=job.cause.video_id, summary=summary, copied_from=result.get("copied_from")
        )
        await emit_answer(conn, job.cause, "transcript.completed", summary, producer=self.runtime.producer)

    async def fail(self, conn: asyncpg.Connection, job: Job, reason_code: str, message: str) -> None:
        if reason_code == "internal_error":
            # The worker's message is an exception for the logs, not something a user can act on.
            log.error("transcription failed after retries", error=message)
            message = INTERNAL_ERROR_MESSAGE
        await repository.mark_failed(conn, video_id=job.cause.video_id, reason_code=reason_code, message=message)
        await emit_answer(
            conn,
            job.cause,
            "transcript.failed",
            TranscriptFailed(reason_code=reason_code, message=message),
            producer=self.runtime.producer,
        )

    # ------------------------------------------------------------------ purge

    async def purge(self, job: Job) -> dict[str, Any]:
        await self.store.delete(transcript_key(job.cause.video_id))
        return {"removed": 1}

    async def _purged(self, conn: asyncpg.Connection, job: Job, result: dict[str, Any]) -> None:
        log.info("deleted video's transcript purged")

    async def _purge_failed(self, conn: asyncpg.Connection, job: Job, reason_code: str, message: str) -> None:
        log.error("purge of a deleted video failed; its transcript remains", reason_code=reason_code, error=message)
