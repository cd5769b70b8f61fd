"""HTTP Range parsing for downloads."""

from __future__ import annotations

import pytest
from clipforge_gateway.domain.ranges import ByteRange, RangeNotSatisfiable, parse_range


@pytest.mark.parametrize(
    ("header", "size", "expected"),
    [
        (None, 100, None),
        ("bytes=0-9", 100, ByteRange(0, 9)),
        ("bytes=10-", 100, ByteRange(10, 99)),
        ("bytes=-10", 100, ByteRange(90, 99)),
        ("bytes=-1000", 100, ByteRange(0, 99)),
        ("bytes=90-1000", 100, ByteRange(90, 99)),
        ("bytes = 5-5", 100, ByteRange(5, 5)),
        ("bytes=0-0,5-9", 100, None),  # multi-range: served whole, as the RFC allows
        ("items=0-9", 100, None),
        ("bytes=9-0", 100, None),
        ("bytes=abc", 100, None),
        ("bytes=-", 100, None),
    ],
)
def test_parse_range(header: str | None, size: int, expected: ByteRange | None) -> None:
    assert parse_range(header, size) == expected


@pytest.mark.parametrize(
    ("header", "size"), [("bytes=100-", 100), ("bytes=200-300", 100), ("bytes=-0", 100), ("bytes=-5", 0)]
)
def test_unsatisfiable(header: str, size: int) -> None:
    with pytest.raises(RangeNotSatisfiable):
        parse_range(header, size)


def test_headers() -> None:
    r = ByteRange(10, 19)
    assert r.length == 10
    assert r.content_range(100) == "bytes 10-19/100"
    assert r.header() == "bytes=10-19"
