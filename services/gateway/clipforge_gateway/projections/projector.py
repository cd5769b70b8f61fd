"""The projector: every event of the catalog into the read-model tables, then views and live fan-out.

The table writes run in the consumer's inbox transaction (effectively once). After the commit,
``after_commit`` refreshes the affected Redis views and publishes the event on the video's channel,
in the order the partition delivered it. Every applied event bumps the video's version, which
orders the views and the WebSocket messages.
"""

from __future__ import annotations

from typing import Any

import structlog
from clipforge_common.consumer import Handler, HandlerContext
from clipforge_common.envelope import Envelope
from clipforge_common.events import CATALOG

from clipforge_gateway.cache import CLIPS, RENDERS, VIDEO
from clipforge_gateway.domain.state import VideoState, apply_event
from clipforge_gateway.projections import repository as repo

log = structlog.get_logger(__name__)

PURGE_JOB = "gateway.purge_video"

# Views to refresh after an event, besides the video's own.
EXTRA_VIEWS: dict[str, set[str]] = {
    "clips.ranked": {CLIPS},
    "render.requested": {RENDERS},
    "clip.rendered": {RENDERS},
    "clip.render_failed": {RENDERS},
    "video.deleted": {CLIPS, RENDERS},
}


def views_for(event_type: str, data: dict[str, Any]) -> set[str]:
    kinds = {VIDEO} | EXTRA_VIEWS.get(event_type, set())
    if event_type == "pipeline.progress" and data.get("stage") == "render" and data.get("clip_id"):
        kinds.add(RENDERS)
    return kinds


def purge_payload(state: VideoState) -> dict[str, Any]:
    """Objects the gateway itself wrote for the video (its uploaded source); other services remove theirs."""
    key = (state.source or {}).get("key")
    # Only ever under the video's own prefix, whatever an event claims.
    keys = [key] if isinstance(key, str) and key.startswith(f"videos/{state.video_id}/") else []
    return {"keys": keys}


async def apply_children(conn: Any, env: Envelope, data: dict[str, Any], before: VideoState, after: VideoState) -> None:
    """Side tables and usage of one event (the video row itself is written by the caller)."""
    at = env.occurred_at
    vid, tenant = env.video_id, env.tenant_id
    match env.event_type:
        case "video.ingested":
            await repo.add_usage(conn, tenant, "ingested_seconds", float(data.get("duration") or 0), at.date())
        case "transcript.completed":
            await repo.upsert_transcript(conn, vid, tenant, data, at)
        case "clips.ranked" if after.ranked_at == at:  # this ranking is the newest one
            await repo.replace_clips(conn, vid, tenant, data)
        case "render.requested":
            await repo.request_render(
                conn,
                render_id=data.get("render_id") or repo.default_render_id(vid, data["clip_id"], data["preset"]),
                video_id=vid,
                tenant_id=tenant,
                clip_id=data["clip_id"],
                preset=data["preset"],
                caption_style=data.get("caption_style") or {},
                at=at,
            )
        case "clip.rendered":
            await repo.render_done(conn, vid, tenant, data, at)
            await repo.add_usage(conn, tenant, "renders", 1, at.date())
        case "clip.render_failed":
            await repo.render_failed(conn, vid, tenant, data, at)
        case "pipeline.progress" if data.get("stage") == "render" and data.get("clip_id"):
            await repo.render_running(conn, vid, data["clip_id"], at)
        case "video.deleted":
            await repo.forget_children(conn, vid)
        case _:
            pass


async def project_event(ctx: HandlerContext) -> int | None:
    """Apply one event; returns the video's new version (None when the event was ignored)."""
    env = ctx.envelope
    data = ctx.payload.model_dump(mode="json")
    row = await repo.lock_or_create_video(ctx.conn, env.video_id, env.tenant_id)
    if row["tenant_id"] != env.tenant_id:
        # Never let an event re-home a video into another tenant.
        log.warning("event tenant differs from the video's tenant; ignored", video_tenant=row["tenant_id"])
        return None
    before = repo.state_from_row(row)
    if before.deleted_at is not None:
        if env.event_type != "video.deleted":
            return None  # tombstoned: later events change nothing and are not fanned out
        # Deleted through this gateway already (the API tombstones at once): still tell live clients.
        await ctx.enqueue_job(PURGE_JOB, env.video_id, purge_payload(before))
        return await repo.save_video(ctx.conn, before)
    after = apply_event(before, env.event_type, data, env.occurred_at)
    await apply_children(ctx.conn, env, data, before, after)
    if env.event_type == "video.deleted":
        await ctx.enqueue_job(PURGE_JOB, env.video_id, purge_payload(after))
    return await repo.save_video(ctx.conn, after)


def event_message(env: Envelope, version: int) -> dict[str, Any]:
    """What WebSocket clients receive for an event (see api.schemas.WsEvent)."""
    return {
        "type": "event",
        "version": version,
        "event_type": env.event_type,
        "event_id": env.event_id,
        "occurred_at": env.occurred_at.isoformat(),
        "correlation_id": env.correlation_id,
        "data": env.data,
    }


class Projector:
    """Holds the versions handed from the transaction to the after-commit step."""

    def __init__(self) -> None:
        self._versions: dict[str, int] = {}

    async def handle(self, ctx: HandlerContext) -> None:
        version = await project_event(ctx)
        if len(self._versions) > 10_000:
            self._versions.clear()  # entries of dead-lettered events would otherwise accumulate
        if version is not None:
            self._versions[ctx.envelope.event_id] = version
        else:
            self._versions.pop(ctx.envelope.event_id, None)

    def take_version(self, event_id: str) -> int | None:
        return self._versions.pop(event_id, None)

    def handlers(self) -> dict[str, Handler]:
        return {spec.event_type: self.handle for spec in CATALOG}
