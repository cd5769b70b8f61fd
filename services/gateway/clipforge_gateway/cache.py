"""Read-through views: Redis first, PostgreSQL on a miss (then Redis is repopulated).

Writers never put an older view over a newer one: a view carries the video's version and the
compare-and-set script below keeps the higher one. That closes the classic read-through race (a
reader loads old rows, the projector writes the new view, the reader then stores the old one).
If Redis is unreachable, reads fall back to PostgreSQL and the API keeps answering.
"""

from __future__ import annotations

import asyncio
import json
from collections.abc import Awaitable, Callable
from dataclasses import dataclass, field
from functools import cached_property
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


@dataclass
class View:
    """A cached view: who may see it, which version it reflects and the API body as JSON text."""

    tenant_id: str
    version: int
    deleted: bool
    body_json: str | None
    internal: dict[str, Any] = field(default_factory=dict)

    @classmethod
    def from_doc(cls, doc: dict[str, Any]) -> View:
        return cls(
            tenant_id=doc["tenant_id"],
            version=int(doc["version"]),
            deleted=bool(doc.get("deleted")),
            body_json=doc.get("body"),
            internal=doc.get("internal") or {},
        )

    def to_doc(self) -> dict[str, Any]:
        return {
            "tenant_id": self.tenant_id,
            "version": self.version,
            "deleted": self.deleted,
            "body": self.body_json,
            "internal": self.internal,
        }

    @cached_property
    def body(self) -> Any:
        """The body parsed (only routes that look inside it pay for this)."""
        return None if self.body_json is None else json.loads(self.body_json)


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


class CoalescingReader:
    """Concurrent GETs share one MGET round trip (and a key asked for twice is fetched once).

    Every read still comes from Redis. While one MGET is in flight, new keys wait for it and then go
    out together: no delay when idle, bigger batches under load. A redis-py command costs more CPU
    than everything else a cached read does, so this is what makes the read cheap.
    """

    def __init__(self, redis: Callable[[], Any], max_in_flight: int = 1) -> None:
        self._redis = redis
        self.max_in_flight = max_in_flight
        self._pending: dict[str, list[asyncio.Future[str | None]]] = {}
        self._in_flight = 0
        self._scheduled = False
        self._tasks: set[asyncio.Task[None]] = set()

    async def get(self, key: str) -> str | None:
        loop = asyncio.get_running_loop()
        # One future per caller: a caller giving up cancels only its own wait.
        future: asyncio.Future[str | None] = loop.create_future()
        self._pending.setdefault(key, []).append(future)
        if not self._scheduled and self._in_flight < self.max_in_flight:
            self._scheduled = True
            loop.call_soon(self._flush)
        return await future

    def _flush(self) -> None:
        self._scheduled = False
        if not self._pending:
            return
        batch, self._pending = self._pending, {}
        self._in_flight += 1
        task = asyncio.ensure_future(self._fetch(batch))
        self._tasks.add(task)
        task.add_done_callback(self._tasks.discard)

    async def _fetch(self, batch: dict[str, list[asyncio.Future[str | None]]]) -> None:
        keys = list(batch)
        try:
            values = await self._redis().mget(keys)
        except BaseException as exc:
            for futures in batch.values():
                for future in futures:
                    if not future.done():
                        future.set_exception(exc)
            if not isinstance(exc, Exception):
                raise
            return
        else:
            for key, value in zip(keys, values, strict=True):
                for future in batch[key]:
                    if not future.done():
                        future.set_result(value)
        finally:
            self._in_flight -= 1
            if self._pending and not self._scheduled:
                self._scheduled = True
                asyncio.get_running_loop().call_soon(self._flush)


class ReadModel:
    def __init__(self, backend: Backend, *, namespace: str = "", ttl_seconds: int = 3600) -> None:
        self.backend = backend
        self.namespace = namespace
        self.ttl_seconds = ttl_seconds
        self._cas: Any = None
        self._reader = CoalescingReader(lambda: self.backend.redis)

    def key(self, kind: str, video_id: str) -> str:
        return self.namespace + view_key(kind, video_id)

    async def get(self, kind: str, video_id: str) -> View | None:
        """The view, from Redis when it is there, else loaded from PostgreSQL and cached."""
        try:
            raw = await self._reader.get(self.key(kind, video_id))
        except RedisError as exc:
            log.warning("view cache unavailable, reading PostgreSQL", error=str(exc))
            raw = None
        if raw is not None:
            return View.from_doc(json.loads(raw))
        return await self.refresh(kind, video_id)

    async def video(self, video_id: str) -> View | None:
        return await self.get(VIDEO, video_id)

    async def clips(self, video_id: str) -> View | None:
        return await self.get(CLIPS, video_id)

    async def renders(self, video_id: str) -> View | None:
        return await self.get(RENDERS, video_id)

    async def load(self, kind: str, video_id: str) -> View | None:
        """Build a view from PostgreSQL in one consistent snapshot."""
        async with self.backend.pool.acquire() as conn, conn.transaction(isolation="repeatable_read", readonly=True):
            doc = await LOADERS[kind](conn, video_id)
        return None if doc is None else View.from_doc(doc)

    async def refresh(self, kind: str, video_id: str) -> View | None:
        """Load a view from PostgreSQL and store it (unless Redis already has a newer one)."""
        view = await self.load(kind, video_id)
        if view is not None:
            await self.store(kind, video_id, view)
        return view

    async def refresh_many(self, kinds: set[str] | tuple[str, ...], video_id: str) -> dict[str, View | None]:
        return {kind: await self.refresh(kind, video_id) for kind in kinds}

    async def store(self, kind: str, video_id: str, view: View) -> bool:
        try:
            if self._cas is None:
                self._cas = self.backend.redis.register_script(CAS_SCRIPT)
            stored = await self._cas(
                keys=[self.key(kind, video_id)], args=[view.version, json.dumps(view.to_doc()), self.ttl_seconds]
            )
            return bool(stored)
        except RedisError as exc:
            log.warning("view not cached", kind=kind, error=str(exc))
            return False
