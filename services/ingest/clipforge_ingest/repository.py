"""SQL of the ingest service: media records, source hashes and deletion tombstones."""

from __future__ import annotations

from typing import Any

import asyncpg
from clipforge_common.tombstones import mark_deleted

# Handlers and commits pass their transaction's connection; the worker reads through the pool.
Executor = asyncpg.Connection | asyncpg.Pool


async def add_pending(
    conn: Executor, *, video_id: str, tenant_id: str, project_id: str, source_kind: str, source_ref: str
) -> None:
    """Record that ``video_id`` is being ingested (again, if it was asked before)."""
    await conn.execute(
        """INSERT INTO media (video_id, tenant_id, project_id, source_kind, source_ref)
           VALUES ($1, $2, $3, $4, $5)
           ON CONFLICT (video_id) DO UPDATE
              SET status = 'pending', project_id = EXCLUDED.project_id, source_kind = EXCLUDED.source_kind,
                  source_ref = EXCLUDED.source_ref, reason_code = NULL, message = NULL, updated_at = now()
            WHERE media.tenant_id = EXCLUDED.tenant_id""",
        video_id,
        tenant_id,
        project_id,
        source_kind,
        source_ref,
    )


async def find_original(
    conn: Executor, *, tenant_id: str, project_id: str, sha256: str, exclude_video: str
) -> asyncpg.Record | None:
    """The earliest ingested video of the same project with the same bytes that was itself processed
    (not a reuse), so reuse never chains."""
    return await conn.fetchrow(
        """SELECT video_id, source_key, audio_key, info FROM media
           WHERE tenant_id = $1 AND project_id = $2 AND sha256 = $3 AND status = 'ingested'
             AND reused_from IS NULL AND video_id <> $4
           ORDER BY created_at LIMIT 1""",
        tenant_id,
        project_id,
        sha256,
        exclude_video,
    )


async def mark_ingested(
    conn: Executor,
    *,
    video_id: str,
    sha256: str,
    source_key: str,
    audio_key: str,
    reused_from: str | None,
    info: dict[str, Any],
) -> None:
    await conn.execute(
        """UPDATE media SET status = 'ingested', sha256 = $2, source_key = $3, audio_key = $4, reused_from = $5,
                  info = $6, reason_code = NULL, message = NULL, updated_at = now()
           WHERE video_id = $1""",
        video_id,
        sha256,
        source_key,
        audio_key,
        reused_from,
        info,
    )


async def mark_failed(conn: Executor, *, video_id: str, reason_code: str, message: str) -> None:
    await conn.execute(
        """UPDATE media SET status = 'failed', reason_code = $2, message = $3, updated_at = now()
           WHERE video_id = $1""",
        video_id,
        reason_code,
        message,
    )


async def get_media(conn: Executor, video_id: str) -> asyncpg.Record | None:
    return await conn.fetchrow("SELECT * FROM media WHERE video_id = $1", video_id)


async def forget(conn: Executor, *, video_id: str, tenant_id: str) -> None:
    """Drop the video's rows and jobs and remember the deletion.

    A job still running loses its row, so its worker can neither commit a result nor report a
    failure; it notices the tombstone and removes what it uploaded.
    """
    await conn.execute("DELETE FROM media WHERE video_id = $1", video_id)
    await conn.execute("DELETE FROM jobs WHERE video_id = $1", video_id)
    await mark_deleted(conn, video_id, tenant_id)
