"""Use cases that change state: each writes the read model and its event to the outbox in ONE transaction.

The gateway never publishes to Kafka directly: the outbox relay does, so a request either changes
the read model and queues its event, or does neither.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import asyncpg
from clipforge_common.envelope import Envelope, new_event_id
from clipforge_common.events import (
    CaptionStyleData,
    IngestOptions,
    IngestRequested,
    RankRequested,
    RenderRequested,
    SourceRef,
    VideoDeleted,
)
from clipforge_common.jobs import enqueue
from clipforge_common.outbox import add_to_outbox, new_event
from pydantic import BaseModel

from clipforge_gateway.api.errors import ApiError, not_found
from clipforge_gateway.domain.state import VideoState, apply_event
from clipforge_gateway.projections import repository as repo
from clipforge_gateway.projections.projector import PURGE_JOB, purge_payload


@dataclass(frozen=True)
class Actor:
    """Who asks: the tenant, and the producer name events are stamped with."""

    tenant_id: str
    producer: str


def _event(actor: Actor, event_type: str, data: BaseModel, video_id: str) -> Envelope:
    # One correlation id per user request, carried through the whole pipeline.
    return new_event(
        event_type,
        data,
        producer=actor.producer,
        tenant_id=actor.tenant_id,
        video_id=video_id,
        correlation_id=new_event_id(),
    )


async def _locked_state(conn: asyncpg.Connection, actor: Actor, video_id: str) -> VideoState:
    row = await repo.lock_video(conn, video_id)
    if row is None or row["tenant_id"] != actor.tenant_id or row["deleted_at"] is not None:
        raise not_found("video")
    return repo.state_from_row(row)


async def require_project(pool: asyncpg.Pool, tenant_id: str, project_id: str) -> asyncpg.Record:
    project = await repo.get_project(pool, tenant_id, project_id)
    if project is None:
        raise not_found("project")
    return project


async def create_video(
    pool: asyncpg.Pool,
    actor: Actor,
    *,
    video_id: str,
    project_id: str,
    source: SourceRef,
    options: IngestOptions,
    upload_bytes: int | None = None,
) -> Envelope:
    """A new video (ingest pending) and its ``ingest.requested``."""
    env = _event(
        actor, "ingest.requested", IngestRequested(project_id=project_id, source=source, options=options), video_id
    )
    state = apply_event(VideoState(video_id, actor.tenant_id), env.event_type, env.data, env.occurred_at)
    async with pool.acquire() as conn, conn.transaction():
        if await repo.get_project(conn, actor.tenant_id, project_id) is None:
            raise not_found("project")  # deleted meanwhile? (projects are never deleted today)
        await repo.insert_video(conn, state)
        await add_to_outbox(conn, env)
        if upload_bytes:
            await repo.add_usage(conn, actor.tenant_id, "upload_bytes", upload_bytes, env.occurred_at.date())
    return env


async def delete_video(pool: asyncpg.Pool, actor: Actor, video_id: str, reason: str | None = None) -> Envelope:
    """Tombstone the video now (reads answer 404 at once) and queue ``video.deleted`` for every service."""
    async with pool.acquire() as conn, conn.transaction():
        state = await _locked_state(conn, actor, video_id)
        env = _event(actor, "video.deleted", VideoDeleted(reason=reason), video_id)
        after = apply_event(state, env.event_type, env.data, env.occurred_at)
        await repo.forget_children(conn, video_id)
        await repo.save_video(conn, after)
        await enqueue(conn, PURGE_JOB, video_id, purge_payload(after), video_id=video_id)
        await add_to_outbox(conn, env)
    return env


async def request_render(
    pool: asyncpg.Pool, actor: Actor, video_id: str, clip_id: str, preset: str, caption_style: dict[str, Any]
) -> tuple[Envelope, str]:
    """A pending render row and ``render.requested``; returns the event and the render id."""
    render_id = new_event_id()
    data = RenderRequested(
        clip_id=clip_id, preset=preset, caption_style=CaptionStyleData(**caption_style), render_id=render_id
    )
    async with pool.acquire() as conn, conn.transaction():
        state = await _locked_state(conn, actor, video_id)
        if not await repo.clip_exists(conn, video_id, clip_id):
            raise not_found("clip")
        env = _event(actor, "render.requested", data, video_id)
        await repo.request_render(
            conn,
            render_id=render_id,
            video_id=video_id,
            tenant_id=actor.tenant_id,
            clip_id=clip_id,
            preset=preset,
            caption_style=env.data["caption_style"],
            at=env.occurred_at,
        )
        await repo.save_video(conn, apply_event(state, env.event_type, env.data, env.occurred_at))
        await add_to_outbox(conn, env)
    return env, render_id


async def request_rank(
    pool: asyncpg.Pool, actor: Actor, video_id: str, ranker_version: str | None, settings: dict[str, Any]
) -> Envelope:
    """Re-rank an already transcribed video (``rank.requested``)."""
    async with pool.acquire() as conn, conn.transaction():
        state = await _locked_state(conn, actor, video_id)
        if state.stage("transcribe").status != "done":
            raise ApiError(409, "transcript_not_ready", "The video has no transcript yet; it cannot be ranked.")
        env = _event(actor, "rank.requested", RankRequested(ranker_version=ranker_version, settings=settings), video_id)
        await repo.save_video(conn, apply_event(state, env.event_type, env.data, env.occurred_at))
        await add_to_outbox(conn, env)
    return env
