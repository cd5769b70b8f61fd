"""Per-key fixed-window rate limiting: window math and the Redis counter."""

from __future__ import annotations

import pytest
from clipforge_gateway.deps import bearer_token, fixed_window, hit_rate_limit, window_limit


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
    def __init__(self, store: dict[str, int], ttls: dict[str, int]) -> None:
        self.store, self.ttls, self.ops = store, ttls, []

    async def __aenter__(self) -> FakePipeline:
        return self

    async def __aexit__(self, *exc: object) -> None:
        return None

    def incr(self, key: str) -> None:
        self.ops.append(("incr", key))

    def expire(self, key: str, seconds: int) -> None:
        self.ops.append(("expire", key, seconds))

    async def execute(self) -> list[object]:
        out: list[object] = []
        for op in self.ops:
            if op[0] == "incr":
                self.store[op[1]] = self.store.get(op[1], 0) + 1
                out.append(self.store[op[1]])
            else:
                self.ttls[op[1]] = op[2]
                out.append(True)
        return out


class FakeRedis:
    def __init__(self) -> None:
        self.store: dict[str, int] = {}
        self.ttls: dict[str, int] = {}

    def pipeline(self, transaction: bool = True) -> FakePipeline:
        assert transaction
        return FakePipeline(self.store, self.ttls)


async def test_counter_allows_the_limit_then_refuses_until_the_next_window() -> None:
    redis = FakeRedis()
    results = [await hit_rate_limit(redis, "rl:k", 3, 60, now=120.0 + i) for i in range(5)]
    assert [r[0] for r in results] == [True, True, True, False, False]
    assert [r[2] for r in results] == [2, 1, 0, 0, 0]
    assert results[3][1] == 57  # 180 - 123
    assert redis.ttls == {"rl:k:2": 61}  # the bucket outlives its window, then disappears
    allowed, _, remaining = await hit_rate_limit(redis, "rl:k", 3, 60, now=180.0)
    assert allowed and remaining == 2


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
