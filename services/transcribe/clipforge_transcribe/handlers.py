"""Kafka handlers of the transcribe service: record the request and queue the long work; nothing slow here."""

from __future__ import annotations

import structlog
from clipforge_common.consumer import Handler, HandlerContext
from clipforge_common.events import VideoIngested
from clipforge_common.tombstones import is_deleted

from clipforge_transcribe import repository
from clipforge_transcribe.config import TranscribeConfig
from clipforge_transcribe.worker import PURGE_JOB, TRANSCRIBE_JOB

log = structlog.get_logger(__name__)


def make_handlers(config: TranscribeConfig) -> dict[str, Handler]:
    async def on_video_ingested(ctx: HandlerContext) -> None:
        envelope = ctx.envelope
        if await is_deleted(ctx.conn, envelope.video_id):
            log.info("transcription of a deleted video ignored")
            return
        ingested = ctx.payload
        assert isinstance(ingested, VideoIngested)
        await repository.add_pending(
            ctx.conn, video_id=envelope.video_id, tenant_id=envelope.tenant_id, audio_key=ingested.audio_key
        )
        # One job per ingested event: a redelivery is already dropped by the inbox.
        await ctx.enqueue_job(
            TRANSCRIBE_JOB, f"{envelope.video_id}:{envelope.event_id}", {}, max_attempts=config.job_max_attempts
        )

    async def on_video_deleted(ctx: HandlerContext) -> None:
        envelope = ctx.envelope
        await repository.forget(ctx.conn, video_id=envelope.video_id, tenant_id=envelope.tenant_id)
        # Object deletion is a job so it survives a crash and never races a running transcription.
        await ctx.enqueue_job(PURGE_JOB, f"{envelope.video_id}:{envelope.event_id}", {}, max_attempts=5)

    return {"video.ingested": on_video_ingested, "video.deleted": on_video_deleted}
