"""SQL of the render service's own tables (see migrations/001_init.sql). Plain functions on a
connection, so callers decide the transaction (a handler's inbox transaction or a job's commit)."""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

import asyncpg
from clipforge_common.envelope import Envelope
from clipforge_common.events import RankedClipData
from clipforge_common.tombstones import mark_deleted


async def remember_options(
    conn: asyncpg.Connection, *, video_id: str, tenant_id: str, top_k: int | None, preset: str | None
) -> None:
    await conn.execute(
        """INSERT INTO render_videos (video_id, tenant_id, top_k, preset) VALUES ($1, $2, $3, $4)
           ON CONFLICT (video_id) DO UPDATE SET top_k = EXCLUDED.top_k, preset = EXCLUDED.preset, updated_at = now()""",
        video_id,
        tenant_id,
        top_k,
        preset,
    )


async def remember_source(
    conn: asyncpg.Connection, *, video_id: str, tenant_id: str, source_key: str, has_video: bool, duration: float
) -> None:
    await conn.execute(
        """INSERT INTO render_videos (video_id, tenant_id, source_key, has_video, duration) VALUES ($1, $2, $3, $4, $5)
           ON CONFLICT (video_id) DO UPDATE SET source_key = EXCLUDED.source_key, has_video = EXCLUDED.has_video,
                  duration = EXCLUDED.duration, updated_at = now()""",
        video_id,
        tenant_id,
        source_key,
        has_video,
        duration,
    )


async def remember_clips(
    conn: asyncpg.Connection,
    *,
    video_id: str,
    tenant_id: str,
    ranker_version: str,
    transcript_key: str | None,
    clips: Sequence[RankedClipData],
) -> None:
    if transcript_key:
        await conn.execute(
            """INSERT INTO render_videos (video_id, tenant_id, transcript_key) VALUES ($1, $2, $3)
               ON CONFLICT (video_id) DO UPDATE SET transcript_key = EXCLUDED.transcript_key, updated_at = now()""",
            video_id,
            tenant_id,
            transcript_key,
        )
    await conn.executemany(
        """INSERT INTO render_clips (clip_id, video_id, tenant_id, ranker_version, position, start_s, end_s, score,
                  title, hook)
           VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10)
           ON CONFLICT (clip_id) DO UPDATE SET position = EXCLUDED.position, score = EXCLUDED.score,
                  title = EXCLUDED.title, hook = EXCLUDED.hook""",
        [
            (c.clip_id, video_id, tenant_id, ranker_version, i, c.start, c.end, c.score, c.title, c.hook)
            for i, c in enumerate(clips)
        ],
    )


async def video(conn: asyncpg.Connection, video_id: str) -> asyncpg.Record | None:
    return await conn.fetchrow("SELECT * FROM render_videos WHERE video_id = $1", video_id)


async def clip(conn: asyncpg.Connection, clip_id: str) -> asyncpg.Record | None:
    return await conn.fetchrow("SELECT * FROM render_clips WHERE clip_id = $1", clip_id)


async def add_request(
    conn: asyncpg.Connection, *, request_id: str, render_key: str, render_id: str | None, cause: Envelope
) -> bool:
    """Record who is owed an answer; False when this request was recorded before."""
    inserted = await conn.fetchval(
        """INSERT INTO render_requests (request_id, render_key, render_id, video_id, cause)
           VALUES ($1, $2, $3, $4, $5) ON CONFLICT (request_id) DO NOTHING RETURNING 1""",
        request_id,
        render_key,
        render_id,
        cause.video_id,
        cause.model_dump(mode="json"),
    )
    return inserted is not None


async def render_for_update(conn: asyncpg.Connection, render_key: str) -> asyncpg.Record | None:
    return await conn.fetchrow("SELECT * FROM renders WHERE render_key = $1 FOR UPDATE", render_key)


async def queue_render(
    conn: asyncpg.Connection,
    *,
    render_key: str,
    clip_id: str,
    video_id: str,
    tenant_id: str,
    preset: str,
    style: dict[str, Any],
    style_hash: str,
) -> int:
    """Mark the output as queued (again); returns its generation, which names the job."""
    return int(
        await conn.fetchval(
            """INSERT INTO renders (render_key, clip_id, video_id, tenant_id, preset, style, style_hash, status)
               VALUES ($1, $2, $3, $4, $5, $6, $7, 'queued')
               ON CONFLICT (render_key) DO UPDATE SET status = 'queued', generation = renders.generation + 1,
                      outputs = NULL, reason_code = NULL, message = NULL, updated_at = now()
               RETURNING generation""",
            render_key,
            clip_id,
            video_id,
            tenant_id,
            preset,
            style,
            style_hash,
        )
    )


async def finish_render(
    conn: asyncpg.Connection, render_key: str, generation: int, outputs: dict[str, Any]
) -> asyncpg.Record | None:
    """Mark the output done (and older outputs of the same clip and preset superseded: their objects
    were just overwritten). None when that generation is no longer the current one."""
    row = await conn.fetchrow(
        """UPDATE renders SET status = 'done', outputs = $3, updated_at = now()
           WHERE render_key = $1 AND generation = $2 RETURNING *""",
        render_key,
        generation,
        outputs,
    )
    if row is not None:
        await conn.execute(
            """UPDATE renders SET status = 'superseded', updated_at = now()
               WHERE clip_id = $1 AND preset = $2 AND render_key <> $3 AND status = 'done'""",
            row["clip_id"],
            row["preset"],
            render_key,
        )
    return row


async def fail_render(
    conn: asyncpg.Connection, render_key: str, generation: int, reason_code: str, message: str
) -> asyncpg.Record | None:
    return await conn.fetchrow(
        """UPDATE renders SET status = 'failed', reason_code = $3, message = $4, updated_at = now()
           WHERE render_key = $1 AND generation = $2 RETURNING *""",
        render_key,
        generation,
        reason_code,
        message[:2000],
    )


async def take_waiting(conn: asyncpg.Connection, render_key: str) -> list[asyncpg.Record]:
    """The unanswered requests of an output, marked answered (the caller answers them in this transaction)."""
    return await conn.fetch(
        """UPDATE render_requests SET answered_at = now()
           WHERE render_key = $1 AND answered_at IS NULL
           RETURNING request_id, render_id, cause""",
        render_key,
    )


async def forget(conn: asyncpg.Connection, video_id: str) -> list[str]:
    """Drop everything about a video, leave a tombstone; returns the clip ids whose objects to delete."""
    await mark_deleted(conn, video_id)
    clip_ids = {
        r["clip_id"]
        for r in await conn.fetch("DELETE FROM render_clips WHERE video_id = $1 RETURNING clip_id", video_id)
    }
    clip_ids |= {
        r["clip_id"] for r in await conn.fetch("DELETE FROM renders WHERE video_id = $1 RETURNING clip_id", video_id)
    }
    await conn.execute("DELETE FROM render_requests WHERE video_id = $1", video_id)
    await conn.execute("DELETE FROM render_videos WHERE video_id = $1", video_id)
    return sorted(clip_ids)
