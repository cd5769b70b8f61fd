"""Read-through views: Redis first, PostgreSQL on a miss (then Redis is repopulated).

Writers never put an older view over a newer one: a view carries the video's version and the
compare-and-set script below keeps the higher one. That closes the classic read-through race (a
reader loads old rows, the projector writes the new view, the reader then stores the old one).
If Redis is unreachable, reads fall back to PostgreSQL and the API keeps answering.
"""

from __future__ import annotations

import json
from collections.abc import Awaitable, Callable
from typing import Any, Protocol

import asyncpg
import structlog
from clipforge_common.cache import view_key
from redis.exceptions import RedisError

from clipforge_gateway.projections import repository as repo
from clipforge_gateway.projections import views

log = structlog.get_logger(__name__)

VIDEO = "video"
CLIPS = "clips"
RENDERS = "renders"
KINDS: tuple[str, ...] = (VIDEO, CLIPS, RENDERS)

# KEYS[1] view key; ARGV: version, json, ttl. Returns 1 when stored, 0 when a newer view is there.
CAS_SCRIPT = """
local current = redis.call('GET', KEYS[1])
if current then
  local ok, doc = pcall(cjson.decode, current)
  if ok and type(doc) == 'table' and tonumber(doc['version']) and tonumber(doc['version']) > tonumber(ARGV[1]) then
    return 0
  end
end
redis.call('SET', KEYS[1], ARGV[2], 'EX', tonumber(ARGV[3]))
return 1
"""


class Backend(Protocol):
    """Where the read model gets its connections (the running service)."""

    @property
    def pool(self) -> asyncpg.Pool: ...

    @property
    def redis(self) -> Any: ...


Loader = Callable[[asyncpg.Connection, str], Awaitable[dict[str, Any] | None]]


async def _load_video(conn: asyncpg.Connection, video_id: str) -> dict[str, Any] | None:
    video, transcript, counts = await repo.fetch_video_sources(conn, video_id)
    return None if video is None else views.video_view(video, transcript, counts)


async def _load_clips(conn: asyncpg.Connection, video_id: str) -> dict[str, Any] | None:
    header = await repo.video_header(conn, video_id)
    if header is None:
        return None
    return views.clips_view(header, video_id, await repo.fetch_clips(conn, video_id))


async def _load_renders(conn: asyncpg.Connection, video_id: str) -> dict[str, Any] | None:
    header = await repo.video_header(conn, video_id)
    if header is None:
        return None
    return views.renders_view(header, video_id, await repo.fetch_renders(conn, video_id))


LOADERS: dict[str, Loader] = {VIDEO: _load_video, CLIPS: _load_clips, RENDERS: _load_renders}


class ReadModel:
    def __init__(self, backend: Backend, *, namespace: str = "", ttl_seconds: int = 3600) -> None:
        self.backend = backend
        self.namespace = namespace
        self.ttl_seconds = ttl_seconds
        self._cas: Any = None

    def key(self, kind: str, video_id: str) -> str:
        return self.namespace + view_key(kind, video_id)

    async def get(self, kind: str, video_id: str) -> dict[str, Any] | None:
        """The view, from Redis when it is there, else loaded from PostgreSQL and cached."""
        try:
            raw = await self.backend.redis.get(self.key(kind, video_id))
        except RedisError as exc:
            log.warning("view cache unavailable, reading PostgreSQL", error=str(exc))
            raw = None
        if raw is not None:
            return json.loads(raw)
        return await self.refresh(kind, video_id)

    async def video(self, video_id: str) -> dict[str, Any] | None:
        return await self.get(VIDEO, video_id)

    async def clips(self, video_id: str) -> dict[str, Any] | None:
        return await self.get(CLIPS, video_id)

    async def renders(self, video_id: str) -> dict[str, Any] | None:
        return await self.get(RENDERS, video_id)

    async def load(self, kind: str, video_id: str) -> dict[str, Any] | None:
        """Build a view from PostgreSQL in one consistent snapshot."""
        async with self.backend.pool.acquire() as conn, conn.transaction(isolation="repeatable_read", readonly=True):
            return await LOADERS[kind](conn, video_id)

    async def refresh(self, kind: str, video_id: str) -> dict[str, Any] | None:
        """Load a view from PostgreSQL and store it (unless Redis already has a newer one)."""
        view = await self.load(kind, video_id)
        if view is not None:
            await self.store(kind, video_id, view)
        return view

    async def refresh_many(self, kinds: set[str] | tuple[str, ...], video_id: str) -> dict[str, dict[str, Any] | None]:
        return {kind: await self.refresh(kind, video_id) for kind in kinds}

    async def store(self, kind: str, video_id: str, view: dict[str, Any]) -> bool:
        try:
            if self._cas is None:
                self._cas = self.backend.redis.register_script(CAS_SCRIPT)
            stored = await self._cas(
                keys=[self.key(kind, video_id)], args=[int(view["version"]), json.dumps(view), self.ttl_seconds]
            )
            return bool(stored)
        except RedisError as exc:
            log.warning("view not cached", kind=kind, error=str(exc))
            return False
