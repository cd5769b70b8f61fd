"""SQL of the gateway's tables. Every tenant-facing read filters by tenant_id."""

from __future__ import annotations

import json
import uuid
from datetime import date, datetime
from typing import Any

import asyncpg

from clipforge_gateway.domain.state import Stage, VideoState

VIDEO_COLUMNS = (
    "video_id, tenant_id, project_id, source, options, stages, metadata, failure, ranker_version, ranked_at, "
    "clip_count, version, created_at, updated_at, deleted_at"
)


def _json(value: Any) -> Any:
    # The pool's codec decodes jsonb; a raw connection may hand back text.
    return json.loads(value) if isinstance(value, str) else value


def state_from_row(row: asyncpg.Record) -> VideoState:
    stages = _json(row["stages"]) or {}
    return VideoState(
        video_id=row["video_id"],
        tenant_id=row["tenant_id"],
        project_id=row["project_id"],
        source=_json(row["source"]),
        options=_json(row["options"]),
        stages={name: Stage.from_json(raw) for name, raw in stages.items()},
        metadata=_json(row["metadata"]),
        failure=_json(row["failure"]),
        ranker_version=row["ranker_version"],
        ranked_at=row["ranked_at"],
        clip_count=row["clip_count"],
        deleted_at=row["deleted_at"],
    )


def _stages_json(state: VideoState) -> dict[str, Any]:
    return {name: stage.to_json() for name, stage in state.stages.items()}


# ------------------------------------------------------------------------------------------ videos


async def lock_video(conn: asyncpg.Connection, video_id: str) -> asyncpg.Record | None:
    return await conn.fetchrow(f"SELECT {VIDEO_COLUMNS} FROM videos WHERE video_id = $1 FOR UPDATE", video_id)


async def lock_or_create_video(conn: asyncpg.Connection, video_id: str, tenant_id: str) -> asyncpg.Record:
    """The locked row of a video, created empty if this is the first event seen of it (replays)."""
    await conn.execute(
        "INSERT INTO videos (video_id, tenant_id) VALUES ($1, $2) ON CONFLICT (video_id) DO NOTHING",
        video_id,
        tenant_id,
    )
    row = await lock_video(conn, video_id)
    assert row is not None
    return row


async def insert_video(conn: asyncpg.Connection, state: VideoState) -> int:
    return await conn.fetchval(
        """INSERT INTO videos (video_id, tenant_id, project_id, source, options, stages, version)
           VALUES ($1, $2, $3, $4, $5, $6, 1) RETURNING version""",
        state.video_id,
        state.tenant_id,
        state.project_id,
        state.source,
        state.options,
        _stages_json(state),
    )


async def save_video(conn: asyncpg.Connection, state: VideoState) -> int:
    """Write the state and bump the version; returns the new version."""
    return await conn.fetchval(
        """UPDATE videos SET project_id = $2, source = $3, options = $4, stages = $5, metadata = $6,
                  failure = $7, ranker_version = $8, ranked_at = $9, clip_count = $10, deleted_at = $11,
                  version = version + 1, updated_at = now()
           WHERE video_id = $1 RETURNING version""",
        state.video_id,
        state.project_id,
        state.source,
        state.options,
        _stages_json(state),
        state.metadata,
        state.failure,
        state.ranker_version,
        state.ranked_at,
        state.clip_count,
        state.deleted_at,
    )


async def forget_children(conn: asyncpg.Connection, video_id: str) -> None:
    """A deleted video keeps only its tombstone row."""
    await conn.execute("DELETE FROM clips WHERE video_id = $1", video_id)
    await conn.execute("DELETE FROM renders WHERE video_id = $1", video_id)
    await conn.execute("DELETE FROM transcripts WHERE video_id = $1", video_id)


async def list_videos(
    conn: asyncpg.Connection | asyncpg.Pool, tenant_id: str, project_id: str, limit: int, cursor: str | None
) -> list[asyncpg.Record]:
    return await conn.fetch(
        f"""SELECT {VIDEO_COLUMNS} FROM videos
            WHERE tenant_id = $1 AND project_id = $2 AND deleted_at IS NULL AND ($3::text IS NULL OR video_id < $3)
            ORDER BY video_id DESC LIMIT $4""",
        tenant_id,
        project_id,
        cursor,
        limit,
    )


# ----------------------------------------------------------------------------------------- children


async def upsert_transcript(
    conn: asyncpg.Connection, video_id: str, tenant_id: str, data: dict[str, Any], at: datetime
) -> None:
    await conn.execute(
        """INSERT INTO transcripts (video_id, tenant_id, transcript_key, engine, engine_version, language,
                                    word_count, sentence_count, duration, completed_at)
           VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10)
           ON CONFLICT (video_id) DO UPDATE SET transcript_key = EXCLUDED.transcript_key, engine = EXCLUDED.engine,
                  engine_version = EXCLUDED.engine_version, language = EXCLUDED.language,
                  word_count = EXCLUDED.word_count, sentence_count = EXCLUDED.sentence_count,
                  duration = EXCLUDED.duration, completed_at = EXCLUDED.completed_at
           WHERE transcripts.completed_at <= EXCLUDED.completed_at""",
        video_id,
        tenant_id,
        data["transcript_key"],
        data["engine"],
        data["engine_version"],
        data["language"],
        int(data["word_count"]),
        int(data.get("sentence_count") or 0),
        float(data["duration"]),
        at,
    )


async def replace_clips(conn: asyncpg.Connection, video_id: str, tenant_id: str, data: dict[str, Any]) -> None:
    """The latest ranking replaces the previous one; ranks follow the score, best first."""
    await conn.execute("DELETE FROM clips WHERE video_id = $1", video_id)
    clips = sorted(data.get("clips") or [], key=lambda c: -float(c["score"]))
    if not clips:
        return
    await conn.executemany(
        """INSERT INTO clips (video_id, clip_id, tenant_id, rank, start_s, end_s, score, features, reasons, title,
                              hook, ranker_version)
           VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11, $12) ON CONFLICT (video_id, clip_id) DO NOTHING""",
        [
            (
                video_id,
                c["clip_id"],
                tenant_id,
                rank,
                float(c["start"]),
                float(c["end"]),
                float(c["score"]),
                c.get("features") or {},
                c.get("reasons") or [],
                c.get("title") or "",
                c.get("hook") or "",
                data["ranker_version"],
            )
            for rank, c in enumerate(clips, start=1)
        ],
    )


async def clip_exists(conn: asyncpg.Connection, video_id: str, clip_id: str) -> bool:
    return bool(await conn.fetchval("SELECT 1 FROM clips WHERE video_id = $1 AND clip_id = $2", video_id, clip_id))


def default_render_id(video_id: str, clip_id: str, preset: str) -> str:
    """A stable id for renders nobody requested through the API (auto-rendered top clips)."""
    return str(uuid.uuid5(uuid.NAMESPACE_URL, f"clipforge:render:{video_id}:{clip_id}:{preset}"))


async def request_render(
    conn: asyncpg.Connection,
    *,
    render_id: str,
    video_id: str,
    tenant_id: str,
    clip_id: str,
    preset: str,
    caption_style: dict[str, Any],
    at: datetime,
) -> None:
    """A (re-)requested render of a clip and preset starts over as pending."""
    await conn.execute(
        """INSERT INTO renders (render_id, video_id, tenant_id, clip_id, preset, caption_style, status, event_at)
           VALUES ($1, $2, $3, $4, $5, $6, 'pending', $7)
           ON CONFLICT (video_id, clip_id, preset) DO UPDATE SET render_id = EXCLUDED.render_id,
                  caption_style = EXCLUDED.caption_style, status = 'pending', video_key = NULL,
                  thumbnail_key = NULL, srt_key = NULL, vtt_key = NULL, duration = NULL, width = NULL,
                  height = NULL, size = NULL, failure = NULL, event_at = EXCLUDED.event_at, updated_at = now()
           WHERE renders.event_at <= EXCLUDED.event_at""",
        render_id,
        video_id,
        tenant_id,
        clip_id,
        preset,
        caption_style,
        at,
    )


async def render_done(
    conn: asyncpg.Connection, video_id: str, tenant_id: str, data: dict[str, Any], at: datetime
) -> None:
    render_id = data.get("render_id") or default_render_id(video_id, data["clip_id"], data["preset"])
    await conn.execute(
        """INSERT INTO renders (render_id, video_id, tenant_id, clip_id, preset, status, video_key, thumbnail_key,
                                srt_key, vtt_key, duration, width, height, size, event_at)
           VALUES ($1, $2, $3, $4, $5, 'done', $6, $7, $8, $9, $10, $11, $12, $13, $14)
           ON CONFLICT (video_id, clip_id, preset) DO UPDATE SET status = 'done', video_key = EXCLUDED.video_key,
                  thumbnail_key = EXCLUDED.thumbnail_key, srt_key = EXCLUDED.srt_key, vtt_key = EXCLUDED.vtt_key,
                  duration = EXCLUDED.duration, width = EXCLUDED.width, height = EXCLUDED.height,
                  size = EXCLUDED.size, failure = NULL, event_at = EXCLUDED.event_at, updated_at = now()
           WHERE renders.event_at <= EXCLUDED.event_at""",
        render_id,
        video_id,
        tenant_id,
        data["clip_id"],
        data["preset"],
        data["video_key"],
        data["thumbnail_key"],
        data["srt_key"],
        data["vtt_key"],
        float(data["duration"]),
        int(data["width"]),
        int(data["height"]),
        int(data["size"]),
        at,
    )


async def render_failed(
    conn: asyncpg.Connection, video_id: str, tenant_id: str, data: dict[str, Any], at: datetime
) -> None:
    render_id = data.get("render_id") or default_render_id(video_id, data["clip_id"], data["preset"])
    failure = {"stage": "render", "reason_code": data["reason_code"], "message": data["message"], "at": at.isoformat()}
    await conn.execute(
        """INSERT INTO renders (render_id, video_id, tenant_id, clip_id, preset, status, failure, event_at)
           VALUES ($1, $2, $3, $4, $5, 'failed', $6, $7)
           ON CONFLICT (video_id, clip_id, preset) DO UPDATE SET status = 'failed', failure = EXCLUDED.failure,
                  event_at = EXCLUDED.event_at, updated_at = now()
           WHERE renders.event_at <= EXCLUDED.event_at""",
        render_id,
        video_id,
        tenant_id,
        data["clip_id"],
        data["preset"],
        failure,
        at,
    )


async def render_running(conn: asyncpg.Connection, video_id: str, clip_id: str, at: datetime) -> None:
    await conn.execute(
        """UPDATE renders SET status = 'running', updated_at = now()
           WHERE video_id = $1 AND clip_id = $2 AND status = 'pending' AND event_at <= $3""",
        video_id,
        clip_id,
        at,
    )


async def add_usage(conn: asyncpg.Connection, tenant_id: str, metric: str, amount: float, day: date) -> None:
    await conn.execute(
        """INSERT INTO usage (tenant_id, day, metric, amount) VALUES ($1, $2, $3, $4)
           ON CONFLICT (tenant_id, day, metric) DO UPDATE SET amount = usage.amount + EXCLUDED.amount""",
        tenant_id,
        day,
        metric,
        amount,
    )


async def list_usage(conn: asyncpg.Connection | asyncpg.Pool, tenant_id: str, since: date) -> list[asyncpg.Record]:
    return await conn.fetch(
        "SELECT day, metric, amount FROM usage WHERE tenant_id = $1 AND day >= $2 ORDER BY day, metric",
        tenant_id,
        since,
    )


# ------------------------------------------------------------------------------------- view sources


async def fetch_video_sources(
    conn: asyncpg.Connection, video_id: str
) -> tuple[asyncpg.Record | None, asyncpg.Record | None, dict[str, int]]:
    """The video row, its transcript row and its render counts (one consistent snapshot)."""
    video = await conn.fetchrow(f"SELECT {VIDEO_COLUMNS} FROM videos WHERE video_id = $1", video_id)
    if video is None:
        return None, None, {}
    transcript = await conn.fetchrow("SELECT * FROM transcripts WHERE video_id = $1", video_id)
    counts = {
        r["status"]: r["n"]
        for r in await conn.fetch(
            "SELECT status, count(*) AS n FROM renders WHERE video_id = $1 GROUP BY status", video_id
        )
    }
    return video, transcript, counts


async def fetch_clips(conn: asyncpg.Connection, video_id: str) -> list[asyncpg.Record]:
    return await conn.fetch("SELECT * FROM clips WHERE video_id = $1 ORDER BY rank", video_id)


async def fetch_renders(conn: asyncpg.Connection, video_id: str) -> list[asyncpg.Record]:
    return await conn.fetch("SELECT * FROM renders WHERE video_id = $1 ORDER BY created_at, render_id", video_id)


async def video_header(conn: asyncpg.Connection, video_id: str) -> asyncpg.Record | None:
    return await conn.fetchrow(
        "SELECT tenant_id, version, deleted_at, ranker_version FROM videos WHERE video_id = $1", video_id
    )


# ----------------------------------------------------------------------------------------- projects


async def create_project(
    conn: asyncpg.Connection | asyncpg.Pool, project_id: str, tenant_id: str, name: str, description: str
) -> asyncpg.Record:
    return await conn.fetchrow(
        """INSERT INTO projects (project_id, tenant_id, name, description) VALUES ($1, $2, $3, $4)
           RETURNING project_id, name, description, created_at""",
        project_id,
        tenant_id,
        name,
        description,
    )


async def get_project(
    conn: asyncpg.Connection | asyncpg.Pool, tenant_id: str, project_id: str
) -> asyncpg.Record | None:
    return await conn.fetchrow(
        "SELECT project_id, name, description, created_at FROM projects WHERE tenant_id = $1 AND project_id = $2",
        tenant_id,
        project_id,
    )


async def list_projects(
    conn: asyncpg.Connection | asyncpg.Pool, tenant_id: str, limit: int, cursor: str | None
) -> list[asyncpg.Record]:
    return await conn.fetch(
        """SELECT project_id, name, description, created_at FROM projects
           WHERE tenant_id = $1 AND ($2::text IS NULL OR project_id < $2) ORDER BY project_id DESC LIMIT $3""",
        tenant_id,
        cursor,
        limit,
    )
