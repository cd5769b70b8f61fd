"""Poison messages on real Kafka and PostgreSQL: every kind lands in ``<topic>.dlq`` with its reason,
the partition keeps flowing past it, and ``clipforge dlq list|redrive`` brings the fixed one back
exactly once.

One partition (one key) carries, in order: good, unparseable bytes, good, an invalid payload, good,
an unknown version, good, an event whose handler keeps failing, good. An :class:`EventConsumer` with
a unique consumer group and its own database consumes that partition in order, as the service
runtime does. Other tests share the topic and its DLQ, so everything here is filtered by this test's
key and consumer group, and nothing assumes the DLQ is empty.
"""

from __future__ import annotations

import asyncio
import contextlib
import json
import os
import sys
import time
from collections import Counter
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any

import asyncpg
import pytest
from aiokafka import AIOKafkaConsumer, AIOKafkaProducer, TopicPartition
from clipforge_common.consumer import EventConsumer, HandlerContext, Record
from clipforge_common.dlq import DLQ_SUFFIX, REDRIVEN_FROM_HEADER, header_text
from clipforge_common.envelope import Envelope
from clipforge_common.events import spec_for
from clipforge_common.settings import Settings
from clipforge_common.topics import ensure_topics

from tests.integration.common.kafka_helpers import read_topic
from tests.resilience.report import ScenarioResult

pytestmark = pytest.mark.slow

EVENT_TYPE = "rank.failed"  # a small payload with required fields, consumed by few services
TOPIC = spec_for(EVENT_TYPE, 1).topic
DLQ = TOPIC + DLQ_SUFFIX
MAX_ATTEMPTS = 3  # CLIPFORGE_HANDLER_MAX_RETRIES for this scenario (5 by default)
WAIT_SECONDS = 120.0  # guards against a hang only


# ---------------------------------------------------------------------------------------- helpers


@dataclass
class Seen:
    """A record of this test's key that the consumer handled, and what became of it."""

    offset: int
    value: bytes
    headers: dict[str, str]
    raw_headers: dict[str, bytes]
    outcome: str


@dataclass
class PartitionDriver:
    """Feeds one partition to an EventConsumer in offset order from ``start`` on, like the service
    runtime's subscriber (which awaits ``handle`` per record and moves on). Records of other tests
    that share the partition (other keys) are left alone."""

    settings: Settings
    partition: int
    start: int
    key: bytes
    consumer: EventConsumer
    seen: list[Seen] = field(default_factory=list)
    _kafka: AIOKafkaConsumer | None = None
    _task: asyncio.Task[None] | None = None

    async def run(self) -> PartitionDriver:
        self._kafka = AIOKafkaConsumer(
            bootstrap_servers=self.settings.kafka_bootstrap, group_id=None, enable_auto_commit=False
        )
        await self._kafka.start()
        tp = TopicPartition(TOPIC, self.partition)
        self._kafka.assign([tp])
        self._kafka.seek(tp, self.start)
        self._task = asyncio.create_task(self._loop(tp))
        return self

    async def _loop(self, tp: TopicPartition) -> None:
        assert self._kafka is not None
        while True:
            batch = await self._kafka.getmany(tp, timeout_ms=200)
            for record in batch.get(tp, []):
                if record.key != self.key:
                    continue
                raw_headers = dict(record.headers or ())
                outcome = await self.consumer.handle(
                    Record(TOPIC, record.partition, record.offset, record.key, record.value, raw_headers)
                )
                self.seen.append(Seen(record.offset, record.value, header_text(raw_headers), raw_headers, outcome))

    async def wait_for(self, count: int) -> list[Seen]:
        deadline = time.monotonic() + WAIT_SECONDS
        while len(self.seen) < count:
            if self._task is not None and self._task.done():
                self._task.result()  # surface a crashed loop
            if time.monotonic() > deadline:
                raise TimeoutError(f"waited for {count} records, saw {[(s.offset, s.outcome) for s in self.seen]}")
            await asyncio.sleep(0.1)
        return self.seen

    async def stop(self) -> None:
        if self._task is not None:
            self._task.cancel()
            with contextlib.suppress(asyncio.CancelledError, Exception):
                await self._task
        if self._kafka is not None:
            await self._kafka.stop()


def _event(video_id: str, tenant_id: str, data: dict[str, Any] | None = None, version: int = 1) -> Envelope:
    return Envelope(
        event_type=EVENT_TYPE,
        event_version=version,
        producer="tests@0",
        tenant_id=tenant_id,
        video_id=video_id,
        correlation_id=f"corr-{video_id}",
        data=data if data is not None else {"reason_code": "test", "message": "a good event"},
    )


async def _send(producer: AIOKafkaProducer, topic: str, key: bytes | None, value: bytes, headers: dict[str, str]):
    return await producer.send_and_wait(topic, value, key=key, headers=[(k, v.encode()) for k, v in headers.items()])


async def clipforge(*args: str) -> tuple[int, str, str]:
    """Run the real CLI in a child process (its commands run their own event loop)."""
    proc = await asyncio.create_subprocess_exec(
        sys.executable,
        "-m",
        "clipforge_cli.main",
        *args,
        stdout=asyncio.subprocess.PIPE,
        stderr=asyncio.subprocess.PIPE,
        env=os.environ.copy(),
    )
    out, err = await asyncio.wait_for(proc.communicate(), WAIT_SECONDS)
    return proc.returncode or 0, out.decode(), err.decode()


async def clipforge_json(*args: str) -> dict[str, Any]:
    code, out, err = await clipforge(*args, "--json")
    assert code == 0, f"clipforge {' '.join(args)} exited {code}: {err}"
    return json.loads(out)


async def _applied(pool: asyncpg.Pool, group: str, event_id: str) -> int:
    async with pool.acquire() as conn:
        return await conn.fetchval(
            "SELECT count(*) FROM poison_applied WHERE consumer_group=$1 AND event_id=$2", group, event_id
        )


def _consumer(
    pool: asyncpg.Pool,
    group: str,
    producer: AIOKafkaProducer,
    broken: set[str],
    calls: Counter[str],
    retries: Settings,
) -> EventConsumer:
    """A consumer whose handler writes one row per applied event and raises for ids in ``broken``."""

    async def handler(ctx: HandlerContext) -> None:
        calls[ctx.envelope.event_id] += 1
        if ctx.envelope.event_id in broken:
            raise RuntimeError("simulated bug in the rank.failed handler")
        await ctx.conn.execute(
            "INSERT INTO poison_applied (consumer_group, event_id) VALUES ($1, $2)", group, ctx.envelope.event_id
        )

    async def dead_letter(topic: str, key: bytes | None, value: bytes, headers: dict[str, str]) -> None:
        await _send(producer, topic, key, value, headers)

    return EventConsumer(
        service="poison-test",
        group_id=group,
        pool=pool,
        handlers={EVENT_TYPE: handler},
        dead_letter=dead_letter,
        producer="tests@0",
        # Wired from settings exactly as ServiceRuntime does.
        max_attempts=retries.handler_max_retries,
        retry_base_seconds=retries.handler_retry_base_seconds,
    )


# ---------------------------------------------------------------------------------------- the scenario

POISON_KINDS = {
    # kind: (cf-dlq-reason, attempts, a fragment the error must contain)
    "unparseable": ("unparseable", 1, "json"),
    "invalid payload": ("invalid_payload", 1, "reason_code"),
    "unknown version": ("unknown_version", 1, "v99"),
    "handler error": ("handler_error", MAX_ATTEMPTS, "RuntimeError: simulated bug"),
}


async def test_poison_records_are_dead_lettered_the_partition_flows_and_redrive_applies_once(
    stack: Settings, test_pool: asyncpg.Pool, unique: str
) -> None:
    await ensure_topics(stack)
    async with test_pool.acquire() as conn:
        await conn.execute("CREATE TABLE poison_applied (consumer_group text, event_id text)")
    group = f"test.poison.{unique}"
    video = f"video-poison-{unique}"
    key = video.encode()
    tenant = f"tenant-poison-{unique}"

    goods = [_event(video, tenant) for _ in range(5)]
    invalid = _event(video, tenant, data={"message": "reason_code is missing"})
    unknown_version = _event(video, tenant, version=99)
    failing = _event(video, tenant)
    unparseable_bytes = b"\x00\x01 this is not an event {"
    # (label, value, headers) in publication order, all on one partition (one key).
    sequence: list[tuple[str, bytes, dict[str, str]]] = [
        ("good", goods[0].to_bytes(), goods[0].headers()),
        ("unparseable", unparseable_bytes, {}),
        ("good", goods[1].to_bytes(), goods[1].headers()),
        ("invalid payload", invalid.to_bytes(), invalid.headers()),
        ("good", goods[2].to_bytes(), goods[2].headers()),
        ("unknown version", unknown_version.to_bytes(), unknown_version.headers()),
        ("good", goods[3].to_bytes(), goods[3].headers()),
        ("handler error", failing.to_bytes(), failing.headers()),
        ("good", goods[4].to_bytes(), goods[4].headers()),
    ]

    results = {kind: ScenarioResult(f"poison: {kind}") for kind in POISON_KINDS}
    results["redrive"] = ScenarioResult("poison: redrive")
    broken = {failing.event_id}
    calls: Counter[str] = Counter()
    producer = AIOKafkaProducer(bootstrap_servers=stack.kafka_bootstrap, acks="all", enable_idempotence=True)
    await producer.start()
    driver: PartitionDriver | None = None
    try:
        sent = [await _send(producer, TOPIC, key, value, headers) for _, value, headers in sequence]
        partition = sent[0].partition
        assert {s.partition for s in sent} == {partition}
        offsets = [s.offset for s in sent]
        retries = stack.model_copy(update={"handler_max_retries": MAX_ATTEMPTS, "handler_retry_base_seconds": 0.05})
        consumer = _consumer(test_pool, group, producer, broken, calls, retries)
        driver = await PartitionDriver(stack, partition, offsets[0], key, consumer).run()

        # ---- 1. the partition flows: each poison record is dead-lettered, every good one applied once.
        seen = await driver.wait_for(len(sequence))
        outcomes = [(s.offset, s.outcome) for s in seen]
        expected = [
            (o, "applied" if label == "good" else "dead_lettered")
            for (label, _, _), o in zip(sequence, offsets, strict=True)
        ]
        applied_counts = [await _applied(test_pool, group, g.event_id) for g in goods]

        dlq_records = await read_topic(
            stack,
            DLQ,
            until=lambda rs: sum(_is_mine(r, key, group) for r in rs) >= len(POISON_KINDS),
            timeout=WAIT_SECONDS,
        )
        mine = {header_text(r.headers)["cf-dlq-original-offset"]: r for r in dlq_records if _is_mine(r, key, group)}

        for index, (label, value, _) in enumerate(sequence):
            if label == "good":
                continue
            reason, attempts, fragment = POISON_KINDS[label]
            problems = _dlq_problems(mine.get(str(offsets[index])), value, reason, attempts, fragment, partition, group)
            if label == "handler error" and calls[failing.event_id] != MAX_ATTEMPTS:
                problems.append(f"handler called {calls[failing.event_id]} times, expected {MAX_ATTEMPTS}")
            # The good record right behind the poison one must have been applied exactly once.
            behind = applied_counts[(index + 1) // 2]
            flowed = outcomes[index + 1] == expected[index + 1] and behind == 1
            results[label].trial(
                not problems and flowed,
                lost=int(behind == 0),
                duplicates=max(behind - 1, 0),
                problems=problems,
                dlq_offset=mine[str(offsets[index])].offset if str(offsets[index]) in mine else None,
            )
        assert outcomes == expected
        assert applied_counts == [1] * len(goods)
        assert calls[failing.event_id] == MAX_ATTEMPTS
        for kind, result in results.items():
            if kind != "redrive":
                assert result.passed == 1, (kind, result.details)

        # ---- 2. `clipforge dlq list` shows the four, with where they came from.
        listed = await clipforge_json("dlq", "list", "--topic", TOPIC, "--group", group)
        by_reason = {d["reason"]: d for d in listed["dead_letters"] if d["key"] == video}
        assert set(by_reason) == {reason for reason, _, _ in POISON_KINDS.values()}
        assert by_reason["handler_error"]["event_id"] == failing.event_id
        assert by_reason["handler_error"]["attempts"] == MAX_ATTEMPTS
        assert by_reason["invalid_payload"]["event_id"] == invalid.event_id
        assert by_reason["unknown_version"]["event_version"] == 99
        assert by_reason["unparseable"]["event_id"] is None
        assert {d["original_offset"] for d in by_reason.values()} == {offsets[i] for i in (1, 3, 5, 7)}
        everywhere = await clipforge_json("dlq", "list")  # every DLQ topic, no filter
        assert {d["reason"] for d in everywhere["dead_letters"] if d["consumer_group"] == group} == set(by_reason)
        handler_error_dlq = f"{DLQ}:{by_reason['handler_error']['partition']}:{by_reason['handler_error']['offset']}"

        # ---- 3. a dry run changes nothing; after the fix the redrive applies the event exactly once.
        dry = await clipforge_json("dlq", "redrive", TOPIC, "--event-id", failing.event_id, "--dry-run")
        assert [r["event_id"] for r in dry["republished"]] == [failing.event_id]
        assert dry["republished"][0]["offset"] is None
        broken.clear()  # the fix is deployed
        redriven = await clipforge_json("dlq", "redrive", TOPIC, "--event-id", failing.event_id)
        assert [r["event_id"] for r in redriven["republished"]] == [failing.event_id]
        assert handler_error_dlq in redriven["republished"][0]["redriven_from"]
        assert group in redriven["republished"][0]["consumer_groups"]
        back = (await driver.wait_for(len(sequence) + 1))[len(sequence)]
        assert back.offset == redriven["republished"][0]["offset"]
        assert back.value == failing.to_bytes()  # original value…
        assert back.headers["cf-event-id"] == failing.event_id  # …and original cf-* headers
        assert back.headers[REDRIVEN_FROM_HEADER] == handler_error_dlq
        assert not [h for h in back.headers if h.startswith("cf-dlq-")]
        redrive_applied = back.outcome == "applied" and await _applied(test_pool, group, failing.event_id) == 1

        again = await clipforge_json("dlq", "redrive", TOPIC, "--event-id", failing.event_id)
        pending = await clipforge_json("dlq", "list", "--topic", TOPIC, "--group", group)
        with_redriven = await clipforge_json("dlq", "list", "--topic", DLQ, "--group", group, "--all")
        assert again["republished"] == []
        assert failing.event_id not in {d["event_id"] for d in pending["dead_letters"]}
        assert {d["event_id"]: d["redriven"] for d in with_redriven["dead_letters"]}[failing.event_id] is True

        # ---- 4. republishing reaches every group: one that already applied the event skips it (inbox).
        other_group = f"{group}.other"
        other_broken = {goods[2].event_id}
        no_retries = stack.model_copy(update={"handler_max_retries": 1})
        other = _consumer(test_pool, other_group, producer, other_broken, Counter(), no_retries)
        good_seen = seen[4]  # goods[2], applied by `group` above
        as_record = Record(TOPIC, partition, good_seen.offset, key, good_seen.value, good_seen.raw_headers)
        assert await other.handle(as_record) == "dead_lettered"
        other_broken.clear()
        republish = await clipforge_json(
            "dlq", "redrive", TOPIC, "--event-id", goods[2].event_id, "--group", other_group
        )
        assert [r["event_id"] for r in republish["republished"]] == [goods[2].event_id]
        dup = (await driver.wait_for(len(sequence) + 2))[len(sequence) + 1]
        republished_record = Record(TOPIC, partition, dup.offset, key, dup.value, dup.raw_headers)
        other_outcomes = [await other.handle(republished_record) for _ in range(2)]
        group_counts = (
            await _applied(test_pool, group, goods[2].event_id),
            await _applied(test_pool, other_group, goods[2].event_id),
        )

        results["redrive"].trial(
            redrive_applied and again["republished"] == [] and dup.outcome == "duplicate" and group_counts == (1, 1),
            lost=int(not redrive_applied),
            duplicates=len(again["republished"]) + max(group_counts[0] - 1, 0) + max(group_counts[1] - 1, 0),
            calls=calls[failing.event_id],
            already_applied_group_outcome=dup.outcome,
            failed_group_outcomes=other_outcomes,
        )
        assert redrive_applied
        assert dup.outcome == "duplicate"  # `group` already applied goods[2]: the inbox drops the copy
        assert other_outcomes == ["applied", "duplicate"]  # the group that failed applies it, once
        assert group_counts == (1, 1)
        assert calls[failing.event_id] == MAX_ATTEMPTS + 1
    finally:
        for result in results.values():
            if result.trials == 0:
                result.trial(False, problems=["the scenario stopped before this was checked"])
            result.save()
        if driver is not None:
            await driver.stop()
        await producer.stop()


def _is_mine(record: Any, key: bytes, group: str) -> bool:
    return record.key == key and header_text(record.headers).get("cf-dlq-consumer-group") == group


def _dlq_problems(
    record: Any, value: bytes, reason: str, attempts: int, fragment: str, partition: int, group: str
) -> list[str]:
    """What is wrong with a dead letter (empty when it is right)."""
    if record is None:
        return [f"no {reason} record in {DLQ}"]
    headers = header_text(record.headers)
    problems = []
    wanted = {
        "cf-dlq-reason": reason,
        "cf-dlq-attempts": str(attempts),
        "cf-dlq-original-topic": TOPIC,
        "cf-dlq-original-partition": str(partition),
        "cf-dlq-consumer-group": group,
    }
    problems += [
        f"{name}={headers.get(name)!r}, expected {want!r}" for name, want in wanted.items() if headers.get(name) != want
    ]
    if fragment.lower() not in headers.get("cf-dlq-error", "").lower():
        problems.append(f"cf-dlq-error {headers.get('cf-dlq-error')!r} does not mention {fragment!r}")
    try:
        datetime.fromisoformat(headers.get("cf-dlq-failed-at", ""))
    except ValueError:
        problems.append(f"cf-dlq-failed-at {headers.get('cf-dlq-failed-at')!r} is not a timestamp")
    if record.value != value:
        problems.append("the dead letter's value differs from the original record's")
    return problems


async def test_an_unknown_topic_is_a_usage_error(stack: Settings) -> None:
    for args in (["dlq", "list", "--topic", "clipforge.nope.v1"], ["dlq", "redrive", "clipforge.nope.v1.dlq"]):
        code, _, err = await clipforge(*args)
        assert code == 2, (args, err)
        assert "clipforge.nope.v1" in err
