"""Inbox dedupe and the transactional outbox against real PostgreSQL and Kafka."""

from __future__ import annotations

import asyncio

from clipforge_common.broker import create_broker
from clipforge_common.consumer import EventConsumer, HandlerContext, Record
from clipforge_common.envelope import Envelope
from clipforge_common.events import spec_for
from clipforge_common.outbox import OutboxRelay, add_to_outbox, new_event
from clipforge_common.topics import ensure_topics

from .kafka_helpers import read_topic


def _progress_event(video_id: str, percent: float) -> Envelope:
    return new_event(
        "pipeline.progress",
        {"stage": "test", "percent": percent, "message": "m"},
        producer="test@0",
        tenant_id="t",
        video_id=video_id,
        correlation_id="c",
    )


async def _counter_consumer(pool, dead: list) -> EventConsumer:
    async with pool.acquire() as conn:
        await conn.execute("CREATE TABLE IF NOT EXISTS applied (video_id text, event_id text, n int)")

    async def handler(ctx: HandlerContext) -> None:
        await ctx.conn.execute("INSERT INTO applied VALUES ($1, $2, 1)", ctx.envelope.video_id, ctx.envelope.event_id)

    async def dead_letter(topic, key, value, headers):
        dead.append((topic, headers))

    return EventConsumer(
        service="test",
        group_id="test-group",
        pool=pool,
        handlers={"pipeline.progress": handler},
        dead_letter=dead_letter,
        producer="test@0",
    )


async def test_duplicate_delivery_changes_state_once(test_pool, unique):
    dead: list = []
    consumer = await _counter_consumer(test_pool, dead)
    event = _progress_event(f"v-{unique}", 10)
    record = Record("clipforge.pipeline.progress.v1", 0, 1, event.video_id.encode(), event.to_bytes(), {})
    outcomes = [await consumer.handle(record) for _ in range(3)]
    assert outcomes == ["applied", "duplicate", "duplicate"]
    async with test_pool.acquire() as conn:
        assert await conn.fetchval("SELECT count(*) FROM applied WHERE event_id=$1", event.event_id) == 1
    assert dead == []


async def test_an_instance_dedicated_to_tenants_leaves_other_tenants_events_alone(test_pool, unique):
    dead: list = []
    consumer = await _counter_consumer(test_pool, dead)
    consumer.tenants = frozenset({"t-served"})
    others = _progress_event(f"v-{unique}", 5)  # tenant "t"
    record = Record("clipforge.pipeline.progress.v1", 0, 1, others.video_id.encode(), others.to_bytes(), {})
    assert await consumer.handle(record) == "ignored"
    async with test_pool.acquire() as conn:
        assert await conn.fetchval("SELECT count(*) FROM processed_events WHERE event_id=$1", others.event_id) == 0
        assert await conn.fetchval("SELECT count(*) FROM applied WHERE event_id=$1", others.event_id) == 0
    consumer.tenants = frozenset({"t"})
    assert await consumer.handle(record) == "applied"


async def test_rolled_back_outbox_row_is_never_published_and_committed_one_is(stack, test_pool, unique):
    await ensure_topics(stack)
    video = f"v-{unique}"
    rolled_back = _progress_event(video, 1)
    committed = _progress_event(video, 2)

    class Boom(Exception):
        pass

    try:
        async with test_pool.acquire() as conn, conn.transaction():
            await add_to_outbox(conn, rolled_back)
            raise Boom
    except Boom:
        pass
    async with test_pool.acquire() as conn, conn.transaction():
        await add_to_outbox(conn, committed)

    broker = create_broker(stack, "test-relay")
    await broker.start()

    async def publish(topic, key, value, headers):
        await broker.publish(value, topic=topic, key=key, headers=headers)

    relay = OutboxRelay(test_pool, publish, poll_seconds=0.05)
    try:
        async with test_pool.acquire() as conn:
            assert await relay.relay_once(conn) == 1
            assert await relay.relay_once(conn) == 0
    finally:
        await broker.stop()

    topic = spec_for("pipeline.progress", 1).topic
    records = await read_topic(stack, topic, until=lambda rs: any(r.key == video.encode() for r in rs), timeout=20)
    # Let any stray record arrive before asserting absence.
    await asyncio.sleep(1)
    records += await read_topic(stack, topic, until=lambda rs: False, timeout=2)
    ids = {Envelope.from_bytes(r.value).event_id for r in records if r.key == video.encode()}
    assert ids == {committed.event_id}


async def test_relay_crash_between_publish_and_mark_sent_is_applied_once(stack, test_pool, unique):
    """The relay dies after publishing but before marking sent: the event goes out twice and the
    consumer's inbox applies it once."""
    await ensure_topics(stack)
    video = f"v-{unique}"
    event = _progress_event(video, 50)
    async with test_pool.acquire() as conn, conn.transaction():
        await add_to_outbox(conn, event)

    broker = create_broker(stack, "test-relay")
    await broker.start()
    crashes = {"left": 1}

    class RelayKilled(BaseException):
        """Stands in for the process dying: not an Exception, so nothing catches it."""

    async def publish_then_die(topic, key, value, headers):
        await broker.publish(value, topic=topic, key=key, headers=headers)
        if crashes["left"]:
            crashes["left"] -= 1
            raise RelayKilled

    try:
        first = OutboxRelay(test_pool, publish_then_die, poll_seconds=0.05)
        try:
            async with test_pool.acquire() as conn:
                await first.relay_once(conn)
        except RelayKilled:
            pass
        async with test_pool.acquire() as conn:
            assert await conn.fetchval("SELECT sent_at FROM outbox WHERE event_id=$1", event.event_id) is None
        restarted = OutboxRelay(test_pool, publish_then_die, poll_seconds=0.05)
        async with test_pool.acquire() as conn:
            assert await restarted.relay_once(conn) == 1
            assert await conn.fetchval("SELECT sent_at FROM outbox WHERE event_id=$1", event.event_id) is not None
    finally:
        await broker.stop()

    topic = spec_for("pipeline.progress", 1).topic
    records = await read_topic(stack, topic, until=lambda rs: sum(r.key == video.encode() for r in rs) >= 2, timeout=20)
    mine = [r for r in records if r.key == video.encode()]
    assert len(mine) == 2  # published twice: at-least-once on the wire

    dead: list = []
    consumer = await _counter_consumer(test_pool, dead)
    outcomes = [
        await consumer.handle(Record(r.topic, r.partition, r.offset, r.key, r.value, dict(r.headers))) for r in mine
    ]
    assert outcomes == ["applied", "duplicate"]
    async with test_pool.acquire() as conn:
        assert await conn.fetchval("SELECT count(*) FROM applied WHERE event_id=$1", event.event_id) == 1
