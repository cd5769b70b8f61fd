"""Redis: the client factory and the key names the gateway's views and live fan-out share."""

from __future__ import annotations

import redis.asyncio as aioredis

from clipforge_common.settings import Settings


def create_redis(settings: Settings) -> aioredis.Redis:
    return aioredis.Redis.from_url(settings.redis_url, decode_responses=True, health_check_interval=30)


def view_key(kind: str, ident: str) -> str:
    return f"view:{kind}:{ident}"


def events_channel(video_id: str) -> str:
    return f"events:video:{video_id}"


async def delete_prefix(redis: aioredis.Redis, prefix: str, *, batch: int = 500) -> int:
    """Delete every key starting with ``prefix`` (a namespace), in batches; returns how many went."""
    removed = 0
    keys: list[str] = []
    async for key in redis.scan_iter(match=f"{prefix}*", count=batch):
        keys.append(key)
        if len(keys) >= batch:
            removed += await redis.delete(*keys)
            keys.clear()
    if keys:
        removed += await redis.delete(*keys)
    return removed
