"""Common migrations upgrade databases made by earlier versions, not only fresh ones."""

from __future__ import annotations

import uuid

from clipforge_common.db import create_pool, drop_database, ensure_database, migrate, migration_files
from clipforge_common.settings import Settings
from clipforge_common.tombstones import is_deleted, mark_deleted


async def test_a_service_made_tombstone_table_gains_the_tenant_column(stack: Settings) -> None:
    name = f"clipforge_test_{uuid.uuid4().hex[:10]}"
    await ensure_database(stack, name)
    pool = await create_pool(stack, name)
    try:
        # The shape rank and render created themselves before tombstones moved to clipforge_common.
        await pool.execute(
            "CREATE TABLE deleted_videos (video_id text PRIMARY KEY, deleted_at timestamptz NOT NULL DEFAULT now())"
        )
        await migrate(pool, [("common", migration_files("clipforge_common"))])
        async with pool.acquire() as conn:
            await mark_deleted(conn, "vid-old", "tenant-a")
            assert await is_deleted(conn, "vid-old")
            assert await conn.fetchval("SELECT tenant_id FROM deleted_videos WHERE video_id = 'vid-old'") == "tenant-a"
    finally:
        await pool.close()
        await drop_database(stack, name)
