"""Infrastructure faults mid-run: a Kafka broker dies, PostgreSQL, Redis or the S3 server restarts.

These run on a private stack (its own ports, data and a 3-broker KRaft cluster: replication factor
3, min.insync.replicas 2, acks=all), so stopping its parts never disturbs other tests on the shared
stack. The five services run as real processes against it; after each fault the same audit as the
crash trials counts every stage's events by event id and business key.
"""

from __future__ import annotations

import asyncio
import contextlib
import os
import random
import shutil
import time
from collections.abc import AsyncIterator, Iterator
from pathlib import Path
from typing import Any

import pytest
from aiokafka.admin import AIOKafkaAdminClient
from clipforge_common.settings import SERVICES, Settings, get_settings
from clipforge_common.stack import Stack
from clipforge_common.stack.components import Component
from clipforge_common.topics import topic_layout

from tests.resilience.platform import Platform
from tests.resilience.report import ScenarioResult

pytestmark = pytest.mark.slow

BROKERS = 3


@pytest.fixture(scope="module")
def private_stack(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Stack]:
    home = tmp_path_factory.mktemp("private-stack")
    shared_cache = get_settings().home / "cache"
    shared_cache.mkdir(parents=True, exist_ok=True)
    (home / "cache").symlink_to(shared_cache)  # the jars resolved for the shared stack
    settings = Settings(
        home=home,
        # Below the kernel's ephemeral range (32768+), where a client socket could hold a port.
        kafka_bootstrap="127.0.0.1:29092",
        kafka_heap="384m",
        pg_port=25432,
        redis_url="redis://127.0.0.1:26379/0",
        s3_endpoint="http://127.0.0.1:29000",
    )
    stack = Stack(settings=settings, brokers=BROKERS)
    try:
        stack.up(progress=lambda _m: None)
        settings = settings.model_copy(update={"kafka_bootstrap": stack.kafka.endpoint})
        yield Stack(settings=settings, brokers=BROKERS)
    finally:
        for broker in range(BROKERS):  # its data is purged: no need for a controlled shutdown (~45 s)
            stack.kafka.stop_broker(broker, kill=True)
        stack.down(progress=lambda _m: None, purge=True)
        shutil.rmtree(home, ignore_errors=True)


@pytest.fixture
async def platform(private_stack: Stack, tmp_path: Path) -> AsyncIterator[Platform]:
    platform = await Platform(private_stack.settings, tmp_path).start()
    try:
        yield platform
    finally:
        await platform.stop()


def _component(stack: Stack, name: str) -> Component:
    return next(c for c in stack.components() if c.name == name)


async def _first_transcript(platform: Platform, videos: list[str]) -> None:
    """Mid-run: the first video is transcribed, the others are still in ASR or queued."""
    assert platform.events is not None
    await platform.events.wait_for(
        lambda _e: any(e.video_id in videos for e in platform.events.of("transcript.completed")),  # type: ignore[union-attr]
        timeout=600,
        describe="a first transcript",
    )


async def _in_sync_replicas(settings: Settings) -> dict[tuple[str, int], list[int]]:
    topics = sorted({t.name for t in topic_layout(settings.kafka_partitions) if not t.dlq})
    admin = AIOKafkaAdminClient(bootstrap_servers=settings.kafka_bootstrap)
    await admin.start()
    try:
        described = await admin.describe_topics(topics)
    finally:
        await admin.close()
    return {(t["topic"], p["partition"]): sorted(p["isr"]) for t in described for p in t["partitions"]}


async def test_losing_one_of_three_brokers_mid_run_loses_nothing_and_it_catches_up(
    private_stack: Stack, platform: Platform
) -> None:
    seed = int(os.environ.get("CLIPFORGE_RESILIENCE_SEED") or random.SystemRandom().randrange(1, 10**9))
    victim = random.Random(seed).randrange(BROKERS)
    result = ScenarioResult("kill -9 of 1 of 3 Kafka brokers mid-run, then restart")
    kafka = private_stack.kafka
    settings = private_stack.settings
    try:
        videos = await platform.submit(3)
        await _first_transcript(platform, videos)
        assert await asyncio.to_thread(kafka.stop_broker, victim, kill=True)
        await platform.wait_done(videos)
        audit = await platform.audit(videos)

        behind = await _in_sync_replicas(settings)
        out_of_sync = sum(1 for isr in behind.values() if victim + 1 not in isr)
        await asyncio.to_thread(kafka.start)  # starts the missing broker only
        caught_up, deadline = False, time.monotonic() + 180
        while not caught_up and time.monotonic() < deadline:
            isr = await _in_sync_replicas(settings)
            caught_up = all(len(replicas) == BROKERS for replicas in isr.values())
            if not caught_up:
                await asyncio.sleep(1)
        detail: dict[str, Any] = {"seed": seed, "killed_broker": victim + 1, **audit.summary()}
        detail |= {"partitions_out_of_sync_while_down": out_of_sync, "caught_up": caught_up}
        print(f"broker failure: {detail}")
        result.trial(audit.ok and caught_up and out_of_sync > 0, **detail)
    finally:
        result.save()
        with contextlib.suppress(Exception):
            await asyncio.to_thread(kafka.start)
    assert audit.ok, audit.summary()
    assert out_of_sync > 0, "the killed broker was still listed in sync: it was not down"
    assert caught_up, "the restarted broker did not rejoin every partition's in-sync replicas"


@pytest.mark.parametrize("dependency", ["postgres", "redis", "s3"])
async def test_restarting_a_dependency_mid_run_is_reported_and_survived(
    private_stack: Stack, platform: Platform, dependency: str
) -> None:
    component = _component(private_stack, dependency)
    result = ScenarioResult(f"restart of {dependency} mid-run")
    reported: dict[str, bool] = {}
    try:
        videos = await platform.submit(3)
        await _first_transcript(platform, videos)
        assert await asyncio.to_thread(component.stop)
        # While it is down every service that depends on it says so on /readyz, naming it. A
        # service busy with ASR or an encode may answer slowly, so each is asked until it answers.
        dependents = [n for n in SERVICES if dependency != "redis" or n == "gateway"]
        reported = dict.fromkeys(dependents, False)
        deadline = time.monotonic() + 60
        while not all(reported.values()) and time.monotonic() < deadline:
            for name in [n for n, seen in reported.items() if not seen]:
                status, body = await platform.readiness(name, timeout=15)
                reported[name] = status == 503 and body["checks"][dependency]["ok"] is False
        await asyncio.sleep(3)  # handlers and workers meet the outage and back off
        await asyncio.to_thread(component.start)
        ready_again = await _all_ready(platform)
        await platform.wait_done(videos)
        audit = await platform.audit(videos)
        ok = audit.ok and all(reported.values()) and ready_again
        detail = {"dependency": dependency, "readyz_reported_outage": reported, "ready_again": ready_again}
        print(f"{dependency} restart: {detail | audit.summary()}")
        result.trial(ok, **detail, **audit.summary())
    finally:
        result.save()
        with contextlib.suppress(Exception):
            await asyncio.to_thread(component.start)
    assert all(reported.values()), f"/readyz did not report the {dependency} outage: {reported}"
    assert ready_again, "a service did not become ready again"
    assert audit.ok, audit.summary()


async def _all_ready(platform: Platform, timeout: float = 120.0) -> bool:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        statuses = [(await platform.readiness(name))[0] for name in SERVICES]
        if all(s == 200 for s in statuses):
            return True
        await asyncio.sleep(1)
    return False
