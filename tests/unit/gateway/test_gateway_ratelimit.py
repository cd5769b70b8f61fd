"""Per-key fixed-window rate limiting: window math, leases and the Redis counter."""

from __future__ import annotations

import pytest
from clipforge_gateway.deps import bearer_token
from clipforge_gateway.ratelimit import RateLimiter, fixed_window, lease_size, take_tokens, window_limit


@pytest.mark.parametrize(
    ("now", "window", "index", "retry_after"),
    [
        (0.0, 60, 0, 60),
        (59.0, 60, 0, 1),
        (59.9, 60, 0, 1),  # never tell a client to retry in 0 s
        (60.0, 60, 1, 60),
        (61.2, 60, 1, 59),  # rounded up: retrying after Retry-After always lands in the next window
        (1_700_000_030.5, 60, 28_333_333, 10),
        (10.0, 1, 10, 1),
    ],
)
def test_fixed_window(now: float, window: int, index: int, retry_after: int) -> None:
    assert fixed_window(now, window) == (index, retry_after)


def test_retry_after_reaches_the_next_window() -> None:
    for tenth in range(0, 600):
        now = 1000 + tenth / 10
        index, wait = fixed_window(now, 60)
        assert fixed_window(now + wait, 60)[0] == index + 1


def test_window_limit_scales_the_per_minute_rate() -> None:
    assert window_limit(600, 60) == 600
    assert window_limit(600, 1) == 10
    assert window_limit(1, 1) == 1  # never zero
    assert window_limit(120, 3600) == 7200


class FakePipeline:
    def __init__(self, redis: FakeRedis) -> None:
        self.redis, self.ops = redis, []

    async def __aenter__(self) -> FakePipeline:
        return self

    async def __aexit__(self, *exc: object) -> None:
        return None

    def incrby(self, key: str, amount: int) -> None:
        self.ops.append(("incrby", key, amount))

    def expire(self, key: str, seconds: int) -> None:
        self.ops.append(("expire", key, seconds))

    async def execute(self) -> list[object]:
        self.redis.round_trips += 1
        out: list[object] = []
        for op in self.ops:
            if op[0] == "incrby":
                self.redis.store[op[1]] = self.redis.store.get(op[1], 0) + op[2]
                out.append(self.redis.store[op[1]])
            else:
                self.redis.ttls[op[1]] = op[2]
                out.append(True)
        return out


class FakeRedis:
    """Shared by several limiters: the replicas of one deployment."""

    def __init__(self) -> None:
        self.store: dict[str, int] = {}
        self.ttls: dict[str, int] = {}
        self.round_trips = 0

    def pipeline(self, transaction: bool = True) -> FakePipeline:
        assert transaction
        return FakePipeline(self)


class Clock:
    def __init__(self, now: float) -> None:
        self.now = now

    def __call__(self) -> float:
        return self.now


def test_lease_size_is_exact_for_small_limits() -> None:
    assert [lease_size(n) for n in (1, 5, 49, 99)] == [1, 1, 1, 1]
    assert lease_size(600) == 12
    assert lease_size(10**9) == 200


async def test_take_tokens_grants_what_is_left() -> None:
    redis = FakeRedis()
    assert await take_tokens(redis, "b", 4, 10, 60) == 4
    assert await take_tokens(redis, "b", 4, 10, 60) == 4
    assert await take_tokens(redis, "b", 4, 10, 60) == 2
    assert await take_tokens(redis, "b", 4, 10, 60) == 0
    assert redis.ttls == {"b": 61}  # the bucket outlives its window, then disappears


async def test_small_limit_is_exact_and_resets_with_the_window() -> None:
    redis, clock = FakeRedis(), Clock(120.0)
    limiter = RateLimiter(namespace="ns:", window_seconds=60, clock=clock)
    results = []
    for i in range(5):
        clock.now = 120.0 + i
        results.append(await limiter.hit(redis, "k", 3))
    assert [r[0] for r in results] == [True, True, True, False, False]
    assert results[3][1] == 57  # 180 - 123
    assert redis.store == {"ns:ratelimit:k:2": 4}  # after the first refusal, no more round trips
    clock.now = 180.0
    assert (await limiter.hit(redis, "k", 3))[0]


async def test_replicas_share_the_limit_and_never_exceed_it() -> None:
    redis, clock = FakeRedis(), Clock(0.0)
    replicas = [RateLimiter(namespace="", window_seconds=60, clock=clock) for _ in range(3)]
    limit = 1000  # lease of 20 tokens
    allowed = 0
    for i in range(3000):
        ok, _ = await replicas[i % 3].hit(redis, "k", limit)
        allowed += ok
    assert limit - 2 * lease_size(limit) <= allowed <= limit
    assert redis.round_trips < 3000 / 10  # one trip per lease, not per request


async def test_keys_are_independent() -> None:
    redis, clock = FakeRedis(), Clock(0.0)
    limiter = RateLimiter(namespace="", window_seconds=60, clock=clock)
    assert (await limiter.hit(redis, "a", 1))[0]
    assert not (await limiter.hit(redis, "a", 1))[0]
    assert (await limiter.hit(redis, "b", 1))[0]


@pytest.mark.parametrize(
    ("header", "token"),
    [
        (None, None),
        ("", None),
        ("Bearer abc", "abc"),
        ("bearer   abc  ", "abc"),
        ("Basic dXNlcjpwYXNz", None),
        ("Bearer", None),
        ("Bearer ", None),
    ],
)
def test_bearer_token(header: str | None, token: str | None) -> None:
    assert bearer_token(header) == token
