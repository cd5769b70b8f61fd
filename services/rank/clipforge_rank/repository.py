"""SQL of the rank service's own tables (see migrations/001_init.sql). Plain functions on a connection,
so callers decide the transaction (a handler's inbox transaction or a job's commit)."""

from __future__ import annotations

from typing import Any

import asyncpg
from clipforge_common.tombstones import mark_deleted

from clipforge_rank.domain import RankResult


async def remember_media(
    conn: asyncpg.Connection, *, video_id: str, tenant_id: str, audio_key: str, duration: float
) -> None:
    await conn.execute(
        """INSERT INTO rank_videos (video_id, tenant_id, audio_key, duration) VALUES ($1, $2, $3, $4)
           ON CONFLICT (video_id) DO UPDATE SET audio_key = EXCLUDED.audio_key, duration = EXCLUDED.duration,
                  updated_at = now()""",
        video_id,
        tenant_id,
        audio_key,
        duration,
    )


async def remember_transcript(
    conn: asyncpg.Connection, *, video_id: str, tenant_id: str, transcript_key: str, engine: str
) -> None:
    await conn.execute(
        """INSERT INTO rank_videos (video_id, tenant_id, transcript_key, engine) VALUES ($1, $2, $3, $4)
           ON CONFLICT (video_id) DO UPDATE SET transcript_key = EXCLUDED.transcript_key, engine = EXCLUDED.engine,
                  updated_at = now()""",
        video_id,
        tenant_id,
        transcript_key,
        engine,
    )


async def video(conn: asyncpg.Connection, video_id: str) -> asyncpg.Record | None:
    return await conn.fetchrow("SELECT * FROM rank_videos WHERE video_id = $1", video_id)


async def save_ranking(
    conn: asyncpg.Connection,
    *,
    tenant_id: str,
    transcript_key: str,
    config: dict[str, Any],
    result: RankResult,
) -> None:
    """Replace the clips of (video, ranker version) with ``result``'s, best first."""
    await conn.execute(
        "DELETE FROM candidate_clips WHERE video_id = $1 AND ranker_version = $2",
        result.video_id,
        result.ranker_version,
    )
    await conn.executemany(
        """INSERT INTO candidate_clips (clip_id, video_id, tenant_id, ranker_version, position, start_s, end_s,
                  score, features, reasons, title, hook, first_sentence, last_sentence, topic)
           VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11, $12, $13, $14, $15)
           ON CONFLICT (clip_id) DO UPDATE SET position = EXCLUDED.position, score = EXCLUDED.score,
                  features = EXCLUDED.features, reasons = EXCLUDED.reasons, title = EXCLUDED.title,
                  hook = EXCLUDED.hook""",
        [
            (
                c.clip_id,
                result.video_id,
                tenant_id,
                result.ranker_version,
                position,
                c.start,
                c.end,
                c.score,
                c.features,
                c.reasons,
                c.title,
                c.hook,
                c.first_sentence,
                c.last_sentence,
                c.topic,
            )
            for position, c in enumerate(result.clips)
        ],
    )
    await conn.execute(
        """INSERT INTO rankings (video_id, ranker_version, tenant_id, transcript_key, config, candidate_count,
                  clip_count, topic_boundaries, audio_used)
           VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9)
           ON CONFLICT (video_id, ranker_version) DO UPDATE SET transcript_key = EXCLUDED.transcript_key,
                  config = EXCLUDED.config, candidate_count = EXCLUDED.candidate_count,
                  clip_count = EXCLUDED.clip_count, topic_boundaries = EXCLUDED.topic_boundaries,
                  audio_used = EXCLUDED.audio_used, ranked_at = now()""",
        result.video_id,
        result.ranker_version,
        tenant_id,
        transcript_key,
        config,
        result.candidate_count,
        len(result.clips),
        result.topic_boundaries,
        result.audio_used,
    )


async def clips(conn: asyncpg.Connection, video_id: str, ranker_version: str) -> list[asyncpg.Record]:
    return await conn.fetch(
        "SELECT * FROM candidate_clips WHERE video_id = $1 AND ranker_version = $2 ORDER BY position",
        video_id,
        ranker_version,
    )


async def forget(conn: asyncpg.Connection, video_id: str) -> None:
    """Drop everything about a video and leave a tombstone."""
    await mark_deleted(conn, video_id)
    await conn.execute("DELETE FROM candidate_clips WHERE video_id = $1", video_id)
    await conn.execute("DELETE FROM rankings WHERE video_id = $1", video_id)
    await conn.execute("DELETE FROM rank_videos WHERE video_id = $1", video_id)
