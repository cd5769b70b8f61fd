"""Request dependencies: who is calling (API key → tenant) and whether they may (per-key rate limit)."""

from __future__ import annotations

import time
from dataclasses import dataclass
from typing import Any

import structlog
from fastapi import Request
from redis.exceptions import RedisError

from clipforge_gateway.api.errors import ApiError
from clipforge_gateway.context import GatewayContext
from clipforge_gateway.keys import load_key, parse_key, verify_key

log = structlog.get_logger(__name__)

_UNAUTHORIZED_HEADERS = {"WWW-Authenticate": 'Bearer realm="clipforge"'}


@dataclass(frozen=True)
class Principal:
    tenant_id: str
    key_id: str


def bearer_token(authorization: str | None) -> str | None:
    """The key from ``Authorization: Bearer <key>`` (None when absent or another scheme)."""
    if not authorization:
        return None
    scheme, _, token = authorization.strip().partition(" ")
    if scheme.lower() != "bearer" or not token.strip():
        return None
    return token.strip()


def fixed_window(now: float, window_seconds: int) -> tuple[int, int]:
    """``(window index, seconds until it ends)`` of a fixed window; the wait is at least 1 s."""
    index = int(now // window_seconds)
    ends_at = (index + 1) * window_seconds
    return index, max(1, int(-(-(ends_at - now) // 1)))  # ceil, so a client never retries too early


def window_limit(per_minute: int, window_seconds: int) -> int:
    return max(1, round(per_minute * window_seconds / 60))


async def hit_rate_limit(
    redis: Any, key: str, limit: int, window_seconds: int, now: float | None = None
) -> tuple[bool, int, int]:
    """Count one request; returns ``(allowed, retry_after_seconds, remaining)``."""
    now = time.time() if now is None else now
    index, retry_after = fixed_window(now, window_seconds)
    bucket = f"{key}:{index}"
    async with redis.pipeline(transaction=True) as pipe:
        pipe.incr(bucket)
        pipe.expire(bucket, window_seconds + 1)
        count, _ = await pipe.execute()
    count = int(count)
    return count <= limit, retry_after, max(limit - count, 0)


class Authenticator:
    def __init__(self, ctx: GatewayContext) -> None:
        self.ctx = ctx

    async def authenticate(self, raw_key: str | None) -> Principal:
        """The caller's tenant; 401 for a missing or wrong key, 429 over the key's rate limit."""
        if not raw_key:
            raise ApiError(
                401,
                "unauthorized",
                "Missing API key: send 'Authorization: Bearer <key>'.",
                headers=_UNAUTHORIZED_HEADERS,
            )
        key_id = parse_key(raw_key)
        record = None
        if key_id is not None:
            hit, record = self.ctx.keys.get(key_id)
            if not hit:
                record = await load_key(self.ctx.pool, key_id)
                self.ctx.keys.put(key_id, record)
        # Key ids are not secret; what proves the caller is the whole key, whose hash is compared in
        # constant time.
        if record is None or record.revoked or not verify_key(raw_key, record.key_hash):
            raise ApiError(401, "invalid_api_key", "The API key is not valid.", headers=_UNAUTHORIZED_HEADERS)
        await self._rate_limit(record.key_id, record.rate_limit_per_minute or self.ctx.config.rate_limit_per_minute)
        return Principal(tenant_id=record.tenant_id, key_id=record.key_id)

    async def _rate_limit(self, key_id: str, per_minute: int) -> None:
        window = self.ctx.config.rate_limit_window_seconds
        limit = window_limit(per_minute, window)
        try:
            allowed, retry_after, _remaining = await hit_rate_limit(
                self.ctx.redis, f"{self.ctx.config.redis_namespace}ratelimit:{key_id}", limit, window
            )
        except RedisError as exc:
            # Fail open: an unreachable Redis must not take the whole API down.
            log.warning("rate limit not enforced", error=str(exc))
            return
        if not allowed:
            raise ApiError(
                429,
                "rate_limited",
                f"Too many requests for this key (limit {limit} per {window} s); retry in {retry_after} s.",
                headers={
                    "Retry-After": str(retry_after),
                    "X-RateLimit-Limit": str(limit),
                    "X-RateLimit-Remaining": "0",
                },
            )


def get_ctx(request: Request) -> GatewayContext:
    return request.app.state.gateway


async def require_principal(request: Request) -> Principal:
    """The dependency every /v1 route has."""
    ctx: GatewayContext = request.app.state.gateway
    return await ctx.auth.authenticate(bearer_token(request.headers.get("authorization")))
