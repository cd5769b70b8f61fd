"""Request dependencies: who is calling (API key → tenant) and whether they may (per-key rate limit)."""

from __future__ import annotations

from dataclasses import dataclass

import structlog
from fastapi import Request
from redis.exceptions import RedisError

from clipforge_gateway.api.errors import ApiError
from clipforge_gateway.context import GatewayContext
from clipforge_gateway.keys import load_key, parse_key, verify_key
from clipforge_gateway.ratelimit import RateLimiter, window_limit

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


class Authenticator:
    def __init__(self, ctx: GatewayContext) -> None:
        self.ctx = ctx
        self.limiter = RateLimiter(
            namespace=ctx.config.redis_namespace, window_seconds=ctx.config.rate_limit_window_seconds
        )

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
            allowed, retry_after = await self.limiter.hit(self.ctx.redis, key_id, limit)
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


async def get_ctx(request: Request) -> GatewayContext:
    # async on purpose: FastAPI runs sync dependencies in a thread pool (a thread hop per request).
    return request.app.state.gateway


async def require_principal(request: Request) -> Principal:
    """The dependency every /v1 route has."""
    ctx: GatewayContext = request.app.state.gateway
    return await ctx.auth.authenticate(bearer_token(request.headers.get("authorization")))
