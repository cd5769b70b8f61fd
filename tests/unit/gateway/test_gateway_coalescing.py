"""Concurrent cached reads share MGET round trips; errors and cancellations stay correct."""

from __future__ import annotations

import asyncio

import pytest
from clipforge_gateway.cache import CoalescingReader


class FakeRedis:
    def __init__(self, data: dict[str, str], delay: float = 0.01, fail: bool = False) -> None:
        self.data, self.delay, self.fail = data, delay, fail
        self.calls: list[list[str]] = []

    async def mget(self, keys: list[str]) -> list[str | None]:
        self.calls.append(list(keys))
        await asyncio.sleep(self.delay)
        if self.fail:
            raise ConnectionError("redis is down")
        return [self.data.get(k) for k in keys]


async def test_concurrent_reads_share_round_trips_and_get_their_own_values() -> None:
    redis = FakeRedis({f"k{i}": f"v{i}" for i in range(10)})
    reader = CoalescingReader(lambda: redis)
    keys = [f"k{i % 12}" for i in range(200)]  # some keys repeat, two do not exist
    values = await asyncio.gather(*(reader.get(k) for k in keys))
    assert values == [redis.data.get(k) for k in keys]
    assert len(redis.calls) <= 2  # one batch in flight, the rest gathered behind it
    assert all(len(set(call)) == len(call) for call in redis.calls)  # a key is fetched once per batch


async def test_one_batch_in_flight_then_the_next() -> None:
    redis = FakeRedis({"a": "1", "b": "2"}, delay=0.05)
    reader = CoalescingReader(lambda: redis)
    first = asyncio.ensure_future(reader.get("a"))
    await asyncio.sleep(0.01)  # the first MGET is in flight now
    later = [asyncio.ensure_future(reader.get(k)) for k in ("a", "b", "b")]
    assert await first == "1"
    assert [await f for f in later] == ["1", "2", "2"]
    assert redis.calls == [["a"], ["a", "b"]]


async def test_errors_reach_every_waiter_and_the_reader_recovers() -> None:
    redis = FakeRedis({"a": "1"}, fail=True)
    reader = CoalescingReader(lambda: redis)
    results = await asyncio.gather(*(reader.get("a") for _ in range(5)), return_exceptions=True)
    assert all(isinstance(r, ConnectionError) for r in results)
    redis.fail = False
    assert await reader.get("a") == "1"


async def test_a_cancelled_caller_does_not_cancel_the_others() -> None:
    redis = FakeRedis({"a": "1"}, delay=0.05)
    reader = CoalescingReader(lambda: redis)
    impatient = asyncio.ensure_future(reader.get("a"))
    patient = asyncio.ensure_future(reader.get("a"))
    await asyncio.sleep(0.01)
    impatient.cancel()
    with pytest.raises(asyncio.CancelledError):
        await impatient
    assert await patient == "1"
