"""Kafka handlers of the ingest service: record the request and queue the long work; nothing slow here."""

from __future__ import annotations

import structlog
from clipforge_common.consumer import Handler, HandlerContext
from clipforge_common.events import IngestRequested, VideoIngestFailed
from clipforge_common.tombstones import is_deleted

from clipforge_ingest import repository
from clipforge_ingest.config import IngestConfig
from clipforge_ingest.worker import INGEST_JOB, PURGE_JOB, source_problem

log = structlog.get_logger(__name__)


def make_handlers(config: IngestConfig) -> dict[str, Handler]:
    async def on_ingest_requested(ctx: HandlerContext) -> None:
        envelope = ctx.envelope
        if await is_deleted(ctx.conn, envelope.video_id):
            log.info("ingest of a deleted video ignored")
            return
        request = ctx.payload
        assert isinstance(request, IngestRequested)
        await repository.add_pending(
            ctx.conn,
            video_id=envelope.video_id,
            tenant_id=envelope.tenant_id,
            project_id=request.project_id,
            source_kind=request.source.kind,
            source_ref=request.source.key or request.source.url or "",
        )
        problem = source_problem(request, envelope.video_id)
        if problem is not None:
            await repository.mark_failed(
                ctx.conn, video_id=envelope.video_id, reason_code="invalid_source", message=problem
            )
            await ctx.emit("video.ingest_failed", VideoIngestFailed(reason_code="invalid_source", message=problem))
            return
        # One job per request: a redelivered event is already dropped by the inbox, while a new
        # request for the same video (a retry after a failure) runs again.
        await ctx.enqueue_job(
            INGEST_JOB, f"{envelope.video_id}:{envelope.event_id}", {}, max_attempts=config.job_max_attempts
        )

    async def on_video_deleted(ctx: HandlerContext) -> None:
        envelope = ctx.envelope
        await repository.forget(ctx.conn, video_id=envelope.video_id, tenant_id=envelope.tenant_id)
        # Object deletion is a job so it survives a crash and never races a running ingest.
        await ctx.enqueue_job(PURGE_JOB, f"{envelope.video_id}:{envelope.event_id}", {}, max_attempts=5)

    return {"ingest.requested": on_ingest_requested, "video.deleted": on_video_deleted}
