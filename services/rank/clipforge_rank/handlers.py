"""Kafka handlers of the rank service: remember what later ranking needs and queue the rank job.

Nothing slow happens here (each handler runs inside the inbox transaction); ranking is a job.
"""

from __future__ import annotations

import structlog
from clipforge_common.consumer import Handler, HandlerContext
from clipforge_common.events import RankRequested, TranscriptCompleted, VideoIngested
from clipforge_common.tombstones import is_deleted

from clipforge_rank import repository
from clipforge_rank.config import RankConfig
from clipforge_rank.worker import RANK_JOB, rank_payload

log = structlog.get_logger(__name__)


def make_handlers(config: RankConfig) -> dict[str, Handler]:
    async def on_video_ingested(ctx: HandlerContext) -> None:
        env, data = ctx.envelope, ctx.payload
        assert isinstance(data, VideoIngested)
        if await is_deleted(ctx.conn, env.video_id):
            return
        await repository.remember_media(
            ctx.conn, video_id=env.video_id, tenant_id=env.tenant_id, audio_key=data.audio_key, duration=data.duration
        )

    async def on_transcript_completed(ctx: HandlerContext) -> None:
        env, data = ctx.envelope, ctx.payload
        assert isinstance(data, TranscriptCompleted)
        if await is_deleted(ctx.conn, env.video_id):
            log.info("transcript of a deleted video ignored")
            return
        await repository.remember_transcript(
            ctx.conn,
            video_id=env.video_id,
            tenant_id=env.tenant_id,
            transcript_key=data.transcript_key,
            engine=data.engine,
        )
        # One job per event: a redelivery is dropped by the inbox, a new transcript ranks again.
        await ctx.enqueue_job(
            RANK_JOB,
            f"{env.video_id}:{env.event_id}",
            rank_payload(data.transcript_key, None, {}),
            max_attempts=config.job_max_attempts,
        )

    async def on_rank_requested(ctx: HandlerContext) -> None:
        env, data = ctx.envelope, ctx.payload
        assert isinstance(data, RankRequested)
        if await is_deleted(ctx.conn, env.video_id):
            log.info("rank request for a deleted video ignored")
            return
        known = await repository.video(ctx.conn, env.video_id)
        # The stored transcript is re-ranked; never re-transcribed. Unknown here (the event may be
        # read before transcript.completed on another topic): the job looks again, then falls back
        # to the conventional key.
        key = known["transcript_key"] if known is not None else None
        await ctx.enqueue_job(
            RANK_JOB,
            f"{env.video_id}:{env.event_id}",
            rank_payload(key, data.ranker_version, data.settings),
            max_attempts=config.job_max_attempts,
        )

    async def on_video_deleted(ctx: HandlerContext) -> None:
        # Rank owns no objects in S3 (transcripts belong to transcribe): forgetting the rows is all.
        await repository.forget(ctx.conn, ctx.envelope.video_id)

    handlers: dict[str, Handler] = {
        "video.ingested": on_video_ingested,
        "transcript.completed": on_transcript_completed,
        "rank.requested": on_rank_requested,
        "video.deleted": on_video_deleted,
    }
    return handlers
