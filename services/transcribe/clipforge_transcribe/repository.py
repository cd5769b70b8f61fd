"""SQL of the transcribe service: the transcripts index and deletion tombstones."""

from __future__ import annotations

import asyncpg
from clipforge_common.events import TranscriptCompleted
from clipforge_common.tombstones import mark_deleted

# Handlers and commits pass their transaction's connection; the worker reads through the pool.
Executor = asyncpg.Connection | asyncpg.Pool


async def add_pending(conn: Executor, *, video_id: str, tenant_id: str, audio_key: str) -> None:
    """Record that ``video_id`` is being transcribed (again, if its audio was ingested again)."""
    await conn.execute(
        """INSERT INTO transcripts (video_id, tenant_id, audio_key) VALUES ($1, $2, $3)
           ON CONFLICT (video_id) DO UPDATE
              SET status = 'pending', audio_key = EXCLUDED.audio_key, reason_code = NULL, message = NULL,
                  updated_at = now()
            WHERE transcripts.tenant_id = EXCLUDED.tenant_id""",
        video_id,
        tenant_id,
        audio_key,
    )


async def get_done(conn: Executor, *, video_id: str, tenant_id: str) -> asyncpg.Record | None:
    """The finished transcript row of a video of this tenant, if any."""
    return await conn.fetchrow(
        "SELECT * FROM transcripts WHERE video_id = $1 AND tenant_id = $2 AND status = 'done'", video_id, tenant_id
    )


async def get(conn: Executor, video_id: str) -> asyncpg.Record | None:
    return await conn.fetchrow("SELECT * FROM transcripts WHERE video_id = $1", video_id)


async def mark_done(conn: Executor, *, video_id: str, summary: TranscriptCompleted, copied_from: str | None) -> None:
    await conn.execute(
        """UPDATE transcripts SET status = 'done', transcript_key = $2, engine = $3, engine_version = $4,
                  language = $5, word_count = $6, sentence_count = $7, duration = $8, copied_from = $9,
                  reason_code = NULL, message = NULL, updated_at = now()
           WHERE video_id = $1""",
        video_id,
        summary.transcript_key,
        summary.engine,
        summary.engine_version,
        summary.language,
        summary.word_count,
        summary.sentence_count,
        summary.duration,
        copied_from,
    )


async def mark_failed(conn: Executor, *, video_id: str, reason_code: str, message: str) -> None:
    await conn.execute(
        """UPDATE transcripts SET status = 'failed', reason_code = $2, message = $3, updated_at = now()
           WHERE video_id = $1""",
        video_id,
        reason_code,
        message,
    )


async def forget(conn: Executor, *, video_id: str, tenant_id: str) -> None:
    """Drop the video's rows and jobs and remember the deletion.

    A job still running loses its row, so its worker can neither commit a result nor report a
    failure; it notices the tombstone and removes what it stored.
    """
    await conn.execute("DELETE FROM transcripts WHERE video_id = $1", video_id)
    await conn.execute("DELETE FROM jobs WHERE video_id = $1", video_id)
    await mark_deleted(conn, video_id, tenant_id)
