"""The rank job: transcript (+ audio) from S3 -> :func:`rank_transcript` off the event loop ->
candidate rows and ``clips.ranked`` in one transaction (or ``rank.failed``)."""

from __future__ import annotations

import asyncio
import contextlib
import tempfile
from pathlib import Path
from typing import Any

import asyncpg
import structlog
from clipforge_common.consumer import emit_answer
from clipforge_common.events import ClipsRanked, RankedClipData, RankFailed
from clipforge_common.jobs import Job, JobFailed, JobKind
from clipforge_common.service import ServiceRuntime
from clipforge_common.storage import ObjectNotFound, transcript_key, video_audio_key
from clipforge_common.tombstones import is_deleted
from clipforge_common.transcript import Transcript
from pydantic import ValidationError

from clipforge_rank import repository
from clipforge_rank.config import RankConfig, UnknownRankerVersion, resolve_ranker
from clipforge_rank.domain import RankerConfig, RankResult, rank_transcript

log = structlog.get_logger(__name__)

RANK_JOB = "rank"


def rank_payload(transcript_key: str | None, ranker_version: str | None, settings: dict[str, Any]) -> dict[str, Any]:
    """What a rank job carries (besides its cause): where the transcript is and which ranker to use."""
    return {"transcript_key": transcript_key, "ranker_version": ranker_version, "settings": dict(settings)}


def clips_ranked(result: RankResult, transcript_key: str) -> ClipsRanked:
    """The event for a ranking: clips best first, each with features, reasons, title and hook."""
    return ClipsRanked(
        ranker_version=result.ranker_version,
        transcript_key=transcript_key,
        clips=[
            RankedClipData(
                clip_id=c.clip_id,
                start=c.start,
                end=c.end,
                score=c.score,
                features=c.features,
                reasons=c.reasons,
                title=c.title,
                hook=c.hook,
            )
            for c in result.clips
        ],
    )


def no_candidates_message(config: RankerConfig, transcript: Transcript) -> str:
    if not transcript.sentences:
        return "The transcript has no sentences, so there is nothing to clip (is the video silent?)."
    return (
        f"No run of whole sentences lasting {config.min_seconds:g}-{config.max_seconds:g} s fits this "
        f"{transcript.duration:.0f} s video; a longer video (or other ranker settings) is needed."
    )


class RankWorker:
    def __init__(self, runtime: ServiceRuntime, config: RankConfig) -> None:
        self.runtime = runtime
        self.config = config
        self.base = config.ranker()

    def job_kinds(self) -> list[JobKind]:
        return [JobKind(RANK_JOB, self.run, self.commit, self.fail)]

    @property
    def _pool(self) -> asyncpg.Pool:
        assert self.runtime.pool is not None
        return self.runtime.pool

    async def run(self, job: Job) -> dict[str, Any]:
        cause = job.cause
        video_id = cause.video_id
        async with self._pool.acquire() as conn:
            if await is_deleted(conn, video_id):
                return {"skipped": "video_deleted"}
            known = await repository.video(conn, video_id)
        try:
            ranker = resolve_ranker(
                self.base,
                job.payload.get("ranker_version"),
                job.payload.get("settings") or {},
                self.config.ranker_versions_dir,
            )
        except UnknownRankerVersion as exc:
            raise JobFailed("unknown_ranker_version", str(exc)) from exc
        except (ValidationError, ValueError, TypeError) as exc:
            raise JobFailed("invalid_ranker_settings", f"The ranker settings are not valid: {exc}") from exc

        report = self.runtime.progress(cause, "rank")
        report(0.0, "loading the transcript")
        key = job.payload.get("transcript_key") or (known and known["transcript_key"]) or transcript_key(video_id)
        try:
            raw = await self.runtime.store.get_bytes(key)
        except ObjectNotFound as exc:
            raise JobFailed("transcript_not_found", f"The transcript {key} does not exist (yet).") from exc
        try:
            transcript = Transcript.model_validate_json(raw)
        except ValidationError as exc:
            raise JobFailed("invalid_transcript", f"The transcript {key} cannot be read: {exc}") from exc

        work = Path(self.config.work_dir) if self.config.work_dir else None
        if work is not None:
            work.mkdir(parents=True, exist_ok=True)
        with tempfile.TemporaryDirectory(prefix="clipforge-rank-", dir=work) as tmp:
            audio = await self._audio(video_id, known, Path(tmp)) if self.config.use_audio else None
            report(0.3, "ranking")
            result = await asyncio.to_thread(
                rank_transcript, transcript, audio_path=audio, config=ranker, video_id=video_id
            )
        if not result.clips:
            raise JobFailed("no_candidates", no_candidates_message(ranker, transcript))
        report(1.0, f"{len(result.clips)} clips ranked")
        return {
            "transcript_key": key,
            "config": ranker.model_dump(mode="json"),
            "result": result.model_dump(mode="json"),
        }

    async def _audio(self, video_id: str, known: asyncpg.Record | None, tmp: Path) -> Path | None:
        """The 16 kHz WAV ingest extracted, or None (loudness dynamics is then neutral)."""
        key = (known and known["audio_key"]) or video_audio_key(video_id)
        path = tmp / "audio.wav"
        try:
            await self.runtime.store.download_file(key, path)
        except ObjectNotFound:
            log.info("no audio for loudness features", audio_key=key)
            with contextlib.suppress(FileNotFoundError):
                path.unlink()
            return None
        return path

    async def commit(self, conn: asyncpg.Connection, job: Job, result: dict[str, Any]) -> None:
        cause = job.cause
        if result.get("skipped") or await is_deleted(conn, cause.video_id):
            return
        ranking = RankResult.model_validate(result["result"])
        await repository.save_ranking(
            conn,
            tenant_id=cause.tenant_id,
            transcript_key=result["transcript_key"],
            config=result["config"],
            result=ranking,
        )
        await emit_answer(
            conn,
            cause,
            "clips.ranked",
            clips_ranked(ranking, result["transcript_key"]),
            producer=self.runtime.producer,
        )

    async def fail(self, conn: asyncpg.Connection, job: Job, reason_code: str, message: str) -> None:
        cause = job.cause
        if await is_deleted(conn, cause.video_id):
            return
        await emit_answer(
            conn,
            cause,
            "rank.failed",
            RankFailed(reason_code=reason_code, message=message),
            producer=self.runtime.producer,
        )
