"""Per-key fixed-window rate limits counted in Redis, with tokens leased in small batches.

Every replica shares one counter per key and window in Redis. Instead of one Redis round trip per
request, a replica reserves ``lease_size(limit)`` tokens at once (INCRBY) and spends them locally.
The limit is exact when the lease is one token (limits up to 99 per window) and conservative above:
tokens a replica reserved but did not spend count as used, so a key may be refused up to
``(replicas - 1) * lease`` requests early in a window, never admitted beyond its limit.
"""

from __future__ import annotations

import time
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

MAX_LEASE = 200
MAX_TRACKED_KEYS = 10_000


def fixed_window(now: float, window_seconds: int) -> tuple[int, int]:
    """``(window index, seconds until it ends)`` of a fixed window; the wait is at least 1 s."""
    index = int(now // window_seconds)
    ends_at = (index + 1) * window_seconds
    return index, max(1, int(-(-(ends_at - now) // 1)))  # ceil, so a client never retries too early


def window_limit(per_minute: int, window_seconds: int) -> int:
    return max(1, round(per_minute * window_seconds / 60))


def lease_size(limit: int) -> int:
    """Tokens reserved per Redis round trip: 1 (exact) for small limits, at most 2 % of the limit."""
    return max(1, min(limit // 50, MAX_LEASE))


async def take_tokens(redis: Any, bucket: str, wanted: int, limit: int, window_seconds: int) -> int:
    """Reserve up to ``wanted`` tokens of ``bucket``; returns how many are granted (0 when exhausted)."""
    async with redis.pipeline(transaction=True) as pipe:
        pipe.incrby(bucket, wanted)
        pipe.expire(bucket, window_seconds + 1)  # the counter outlives its window briefly, then goes
        count, _ = await pipe.execute()
    before = int(count) - wanted
    return max(0, min(wanted, limit - before))


@dataclass
class _Lease:
    window: int
    tokens: int = 0
    exhausted: bool = False


class RateLimiter:
    def __init__(self, *, namespace: str, window_seconds: int, clock: Callable[[], float] = time.time) -> None:
        self.namespace = namespace
        self.window_seconds = window_seconds
        self.clock = clock
        self._leases: dict[str, _Lease] = {}

    async def hit(self, redis: Any, key_id: str, limit: int) -> tuple[bool, int]:
        """Count one request of ``key_id``; returns ``(allowed, seconds until the window ends)``."""
        index, retry_after = fixed_window(self.clock(), self.window_seconds)
        lease = self._leases.get(key_id)
        if lease is None or lease.window != index:
            if len(self._leases) >= MAX_TRACKED_KEYS:
                self._leases.clear()
            lease = self._leases[key_id] = _Lease(index)
        if lease.tokens > 0:
            lease.tokens -= 1
            return True, retry_after
        if lease.exhausted:
            return False, retry_after  # counters only grow within a window: no need to ask again
        bucket = f"{self.namespace}ratelimit:{key_id}:{index}"
        granted = await take_tokens(redis, bucket, lease_size(limit), limit, self.window_seconds)
        if granted == 0:
            lease.exhausted = True
            return False, retry_after
        lease.tokens += granted - 1
        return True, retry_after
