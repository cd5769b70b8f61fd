"""Tombstones of deleted videos, kept by every service in its own database (``deleted_videos``)."""

from __future__ import annotations

from typing import Any


async def is_deleted(conn: Any, video_id: str) -> bool:
    """True once ``video.deleted`` was applied for the video (``conn``: a connection or pool)."""
    return bool(await conn.fetchval("SELECT 1 FROM deleted_videos WHERE video_id = $1", video_id))


async def mark_deleted(conn: Any, video_id: str, tenant_id: str | None = None) -> None:
    """Leave the tombstone; call in the transaction that drops the service's rows of the video."""
    await conn.execute(
        "INSERT INTO deleted_videos (video_id, tenant_id) VALUES ($1, $2) ON CONFLICT (video_id) DO NOTHING",
        video_id,
        tenant_id,
    )
