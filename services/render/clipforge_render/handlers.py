"""Kafka handlers of the render service: remember what rendering needs and queue render jobs.

Nothing slow happens here (each handler runs inside the inbox transaction). Every render request is
recorded as someone owed an answer; the work itself is keyed by (clip, preset, caption style), so
the same output is rendered once however often it is asked for.
"""

from __future__ import annotations

import structlog
from clipforge_common.consumer import Handler, HandlerContext
from clipforge_common.events import ClipRenderFailed, ClipsRanked, IngestRequested, RenderRequested, VideoIngested
from clipforge_common.tombstones import is_deleted

from clipforge_render import repository
from clipforge_render.config import RenderConfig
from clipforge_render.domain import PRESETS, CaptionStyle
from clipforge_render.worker import PURGE_JOB, RENDER_JOB, answer, best_clips, render_key, render_payload, style_hash

log = structlog.get_logger(__name__)


def make_handlers(config: RenderConfig) -> dict[str, Handler]:
    async def request_render(
        ctx: HandlerContext, clip_id: str, preset: str, style: CaptionStyle, *, render_id: str | None, request_id: str
    ) -> None:
        env, conn = ctx.envelope, ctx.conn
        if preset not in PRESETS:
            message = f"Unknown preset {preset!r}; choose one of {', '.join(sorted(PRESETS))}."
            await ctx.emit(
                "clip.render_failed",
                ClipRenderFailed(
                    clip_id=clip_id, preset=preset, reason_code="unknown_preset", message=message, render_id=render_id
                ),
            )
            return
        key = render_key(clip_id, preset, style)
        if not await repository.add_request(
            conn, request_id=request_id, render_key=key, render_id=render_id, cause=env
        ):
            log.info("render already requested", request_id=request_id)
            return
        row = await repository.render_for_update(conn, key)
        if row is not None and row["status"] == "done":
            # This exact output exists and is the current one: answer at once, render nothing.
            await answer(conn, key, "clip.rendered", dict(row["outputs"]), producer=ctx.producer)
            return
        if row is not None and row["status"] == "queued":
            return  # its job answers every waiting request when it commits
        generation = await repository.queue_render(
            conn,
            render_key=key,
            clip_id=clip_id,
            video_id=env.video_id,
            tenant_id=env.tenant_id,
            preset=preset,
            style=style.model_dump(mode="json"),
            style_hash=style_hash(style),
        )
        await ctx.enqueue_job(
            RENDER_JOB,
            f"{key}#{generation}",
            render_payload(key, generation, clip_id, preset, style),
            max_attempts=config.job_max_attempts,
        )

    async def on_ingest_requested(ctx: HandlerContext) -> None:
        env, data = ctx.envelope, ctx.payload
        assert isinstance(data, IngestRequested)
        if await is_deleted(ctx.conn, env.video_id):
            return
        await repository.remember_options(
            ctx.conn,
            video_id=env.video_id,
            tenant_id=env.tenant_id,
            top_k=data.options.top_k,
            preset=data.options.preset,
        )

    async def on_video_ingested(ctx: HandlerContext) -> None:
        env, data = ctx.envelope, ctx.payload
        assert isinstance(data, VideoIngested)
        if await is_deleted(ctx.conn, env.video_id):
            return
        await repository.remember_source(
            ctx.conn,
            video_id=env.video_id,
            tenant_id=env.tenant_id,
            source_key=data.source_key,
            has_video=data.width is not None,
            duration=data.duration,
        )

    async def on_clips_ranked(ctx: HandlerContext) -> None:
        env, data = ctx.envelope, ctx.payload
        assert isinstance(data, ClipsRanked)
        if await is_deleted(ctx.conn, env.video_id):
            log.info("ranking of a deleted video ignored")
            return
        await repository.remember_clips(
            ctx.conn,
            video_id=env.video_id,
            tenant_id=env.tenant_id,
            ranker_version=data.ranker_version,
            transcript_key=data.transcript_key,
            clips=data.clips,
        )
        known = await repository.video(ctx.conn, env.video_id)
        top_k = known["top_k"] if known is not None and known["top_k"] is not None else config.top_k
        preset = (known["preset"] if known is not None else None) or config.default_preset
        style = CaptionStyle()
        for clip in best_clips(data.clips, top_k):
            # One request per output however often the ranking is delivered or re-published.
            key = render_key(clip.clip_id, preset, style)
            await request_render(ctx, clip.clip_id, preset, style, render_id=None, request_id=f"auto:{key}")

    async def on_render_requested(ctx: HandlerContext) -> None:
        env, data = ctx.envelope, ctx.payload
        assert isinstance(data, RenderRequested)
        if await is_deleted(ctx.conn, env.video_id):
            log.info("render request for a deleted video ignored")
            return
        try:
            style = CaptionStyle.from_request(data.caption_style)
        except ValueError as exc:
            await ctx.emit(
                "clip.render_failed",
                ClipRenderFailed(
                    clip_id=data.clip_id,
                    preset=data.preset,
                    reason_code="invalid_caption_style",
                    message=f"The caption style is not valid: {exc}",
                    render_id=data.render_id,
                ),
            )
            return
        request_id = f"render:{data.render_id}" if data.render_id else f"event:{env.event_id}"
        await request_render(ctx, data.clip_id, data.preset, style, render_id=data.render_id, request_id=request_id)

    async def on_video_deleted(ctx: HandlerContext) -> None:
        env = ctx.envelope
        clip_ids = await repository.forget(ctx.conn, env.video_id)
        # Object deletion is a job: it survives a crash and stays out of this transaction.
        if clip_ids:
            await ctx.enqueue_job(PURGE_JOB, f"{env.video_id}:{env.event_id}", {"clip_ids": clip_ids}, max_attempts=5)

    handlers: dict[str, Handler] = {
        "ingest.requested": on_ingest_requested,
        "video.ingested": on_video_ingested,
        "clips.ranked": on_clips_ranked,
        "render.requested": on_render_requested,
        "video.deleted": on_video_deleted,
    }
    return handlers
