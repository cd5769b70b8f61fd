"""Live events over Redis pub/sub, so every replica's WebSocket clients see what any replica projected.

The projector publishes each applied event on ``events:video:<id>``. Each replica holds ONE pattern
subscription (not one Redis connection per WebSocket) and hands messages to the local subscribers
of that video through bounded queues. A subscriber that falls behind, or a lost Redis connection
(messages may have been missed), ends the subscription with a resync signal; the client reconnects
and gets a fresh snapshot.
"""

from __future__ import annotations

import asyncio
import contextlib
import json
from collections import defaultdict
from collections.abc import AsyncIterator
from typing import Any

import structlog
from clipforge_common.cache import events_channel
from redis.exceptions import RedisError

log = structlog.get_logger(__name__)


async def publish_live(redis: Any, namespace: str, video_id: str, message: dict[str, Any]) -> None:
    """Publish a live event on the video's channel of a Redis namespace (one projection's)."""
    await redis.publish(namespace + events_channel(video_id), json.dumps(message, default=str))


class Resync(Exception):
    """The subscriber may have missed events: reconnect and start from a snapshot."""


class Subscription:
    def __init__(self, video_id: str, maxsize: int) -> None:
        self.video_id = video_id
        self.queue: asyncio.Queue[dict[str, Any]] = asyncio.Queue(maxsize)
        self.broken: str | None = None
        self._wake = asyncio.Event()

    def deliver(self, message: dict[str, Any]) -> None:
        if self.broken:
            return
        try:
            self.queue.put_nowait(message)
        except asyncio.QueueFull:
            self.break_("too slow: events were dropped")

    def break_(self, reason: str) -> None:
        self.broken = reason
        self._wake.set()

    async def get(self) -> dict[str, Any]:
        """The next message in publication order; raises :class:`Resync` if events may be missing."""
        if self.broken:
            raise Resync(self.broken)
        if not self.queue.empty():
            return self.queue.get_nowait()
        getter = asyncio.ensure_future(self.queue.get())
        waker = asyncio.ensure_future(self._wake.wait())
        try:
            await asyncio.wait({getter, waker}, return_when=asyncio.FIRST_COMPLETED)
        finally:
            waker.cancel()
            if not getter.done():
                getter.cancel()
        if self.broken:
            raise Resync(self.broken)
        return getter.result()


class Fanout:
    def __init__(self, *, namespace: str = "", queue_size: int = 1000) -> None:
        self.namespace = namespace
        self.queue_size = queue_size
        self._prefix = namespace + events_channel("")
        self._subs: dict[str, set[Subscription]] = defaultdict(set)
        self._redis: Any = None
        self._pubsub: Any = None
        self._task: asyncio.Task[None] | None = None
        self._listening = asyncio.Event()

    def channel(self, video_id: str) -> str:
        return self.namespace + events_channel(video_id)

    async def publish(self, redis: Any, video_id: str, message: dict[str, Any]) -> None:
        await publish_live(redis, self.namespace, video_id, message)

    # ----------------------------------------------------------------------------- subscriber side

    async def start(self, redis: Any) -> None:
        self._redis = redis
        self._task = asyncio.create_task(self._run(), name="fanout")
        await asyncio.wait_for(self._listening.wait(), 10)

    async def stop(self) -> None:
        if self._task is not None:
            self._task.cancel()
            with contextlib.suppress(asyncio.CancelledError, Exception):
                await self._task
        if self._pubsub is not None:
            with contextlib.suppress(Exception):
                await self._pubsub.aclose()
        for subs in list(self._subs.values()):
            for sub in subs:
                sub.break_("server shutting down")

    async def switch_namespace(self, namespace: str, reason: str = "the read model was switched") -> None:
        """Listen to another projection's live events; current subscribers resync (new snapshot)."""
        if namespace == self.namespace:
            return
        redis = self._redis
        self._break_all(reason)
        await self.stop()
        self._subs.clear()
        self.namespace = namespace
        self._prefix = namespace + events_channel("")
        self._listening = asyncio.Event()
        self._pubsub = None
        if redis is not None:
            await self.start(redis)

    @contextlib.asynccontextmanager
    async def subscribe(self, video_id: str) -> AsyncIterator[Subscription]:
        """Receive the video's events published from now on (the pattern subscription is already live)."""
        if not self._listening.is_set():
            raise Resync("live events are unavailable")
        sub = Subscription(video_id, self.queue_size)
        self._subs[video_id].add(sub)
        try:
            yield sub
        finally:
            subs = self._subs.get(video_id)
            if subs is not None:
                subs.discard(sub)
                if not subs:
                    del self._subs[video_id]

    async def _run(self) -> None:
        while True:
            try:
                self._pubsub = self._redis.pubsub()
                await self._pubsub.psubscribe(self._prefix + "*")
                while True:
                    message = await self._pubsub.get_message(ignore_subscribe_messages=False, timeout=1.0)
                    if message is None:
                        continue
                    if message["type"] == "psubscribe":
                        self._listening.set()
                    elif message["type"] == "pmessage":
                        self._dispatch(message["channel"], message["data"])
            except asyncio.CancelledError:
                raise
            except (RedisError, OSError) as exc:
                log.warning("live event subscription lost, reconnecting", error=str(exc))
                self._listening.clear()
                self._break_all("live events were interrupted")
                with contextlib.suppress(Exception):
                    await self._pubsub.aclose()
                await asyncio.sleep(1.0)

    def _dispatch(self, channel: str, data: str) -> None:
        video_id = channel[len(self._prefix) :]
        subs = self._subs.get(video_id)
        if not subs:
            return
        try:
            message = json.loads(data)
        except ValueError:
            log.warning("undecodable live event dropped", channel=channel)
            return
        for sub in list(subs):
            sub.deliver(message)

    def _break_all(self, reason: str) -> None:
        for subs in list(self._subs.values()):
            for sub in list(subs):
                sub.break_(reason)
