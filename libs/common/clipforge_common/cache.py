"""Redis helpers: JSON views with a TTL, pub/sub fan-out and a fixed-window rate limiter."""

from __future__ import annotations

import json
import time
from typing import Any

import redis.asyncio as aioredis

from clipforge_common.settings import Settings


def create_redis(settings: Settings) -> aioredis.Redis:
    return aioredis.Redis.from_url(settings.redis_url, decode_responses=True, health_check_interval=30)


def view_key(kind: str, ident: str) -> str:
    return f"view:{kind}:{ident}"


def events_channel(video_id: str) -> str:
    return f"events:video:{video_id}"


async def get_json(client: aioredis.Redis, key: str) -> Any | None:
    raw = await client.get(key)
    return None if raw is None else json.loads(raw)


async def set_json(client: aioredis.Redis, key: str, value: Any, ttl_seconds: int = 3600) -> None:
    await client.set(key, json.dumps(value, default=str), ex=ttl_seconds)


async def rate_limit(client: aioredis.Redis, key: str, limit: int, window_seconds: int) -> tuple[bool, int]:
    """Allow ``limit`` hits per window; returns (allowed, seconds until the window resets)."""
    window = int(time.time() // window_seconds)
    bucket = f"ratelimit:{key}:{window}"
    async with client.pipeline(transaction=True) as pipe:
        pipe.incr(bucket)
        pipe.expire(bucket, window_seconds + 1)
        count, _ = await pipe.execute()
    retry_after = window_seconds - int(time.time() % window_seconds)
    return int(count) <= limit, max(retry_after, 1)
