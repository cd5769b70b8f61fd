"""The pure parts of dead-letter handling: typing DLQ records, redrive headers, filters, the ledger."""

from __future__ import annotations

import re
from datetime import UTC, datetime

import pytest
from clipforge_common.dlq import (
    REDRIVE_COUNT_HEADER,
    REDRIVEN_AT_HEADER,
    REDRIVEN_FROM_HEADER,
    DeadLetter,
    DeadLetterFilter,
    RedriveLedger,
    UnknownTopicError,
    _RawDeadLetter,
    dead_letter_from_record,
    decode_ranges,
    encode_ranges,
    header_text,
    plan_redrive,
    redrive_headers,
    resolve_topic,
    select_latest,
)
from clipforge_common.envelope import Envelope

TOPIC = "clipforge.rank.failed.v1"
DLQ = TOPIC + ".dlq"


def _envelope(**overrides: object) -> Envelope:
    fields: dict[str, object] = {
        "event_type": "rank.failed",
        "event_version": 1,
        "producer": "tests@0",
        "tenant_id": "tenant-1",
        "video_id": "video-1",
        "correlation_id": "corr-1",
        "data": {"reason_code": "x", "message": "y"},
    }
    return Envelope(**{**fields, **overrides})  # type: ignore[arg-type]


def _dlq_headers(envelope: Envelope, *, reason: str = "handler_error", group: str = "g1", offset: int = 7) -> dict:
    return {
        **envelope.headers(),
        "traceparent": "00-0af7651916cd43dd8448eb211c80319c-b7ad6b7169203331-01",
        "cf-dlq-reason": reason,
        "cf-dlq-error": "RuntimeError: boom",
        "cf-dlq-original-topic": TOPIC,
        "cf-dlq-original-partition": "3",
        "cf-dlq-original-offset": str(offset),
        "cf-dlq-consumer-group": group,
        "cf-dlq-attempts": "3",
        "cf-dlq-failed-at": "2026-01-02T03:04:05+00:00",
    }


def _letter(offset: int, **fields: object) -> DeadLetter:
    return DeadLetter(dlq_topic=DLQ, partition=3, offset=offset, **fields)  # type: ignore[arg-type]


# ---------------------------------------------------------------------------------------- records


def test_a_dlq_record_is_typed_from_its_error_and_envelope_headers() -> None:
    envelope = _envelope()
    letter = dead_letter_from_record(
        dlq_topic=DLQ,
        partition=3,
        offset=11,
        timestamp_ms=1_700_000_000_000,
        key=b"video-1",
        value=envelope.to_bytes(),
        headers=_dlq_headers(envelope),
    )
    assert (letter.original_topic, letter.original_partition, letter.original_offset) == (TOPIC, 3, 7)
    assert (letter.reason, letter.error, letter.consumer_group, letter.attempts) == (
        "handler_error",
        "RuntimeError: boom",
        "g1",
        3,
    )
    assert letter.failed_at == datetime(2026, 1, 2, 3, 4, 5, tzinfo=UTC)
    assert (letter.event_id, letter.event_type, letter.event_version) == (envelope.event_id, "rank.failed", 1)
    assert (letter.video_id, letter.tenant_id, letter.key) == ("video-1", "tenant-1", "video-1")
    assert letter.location == f"{DLQ}:3:11"
    assert letter.origin == (TOPIC, 3, 7)
    assert not letter.redriven


def test_envelope_fields_come_from_the_body_when_headers_lack_them() -> None:
    envelope = _envelope(event_version=99)
    headers = {k: v for k, v in _dlq_headers(envelope, reason="unknown_version").items() if k.startswith("cf-dlq-")}
    letter = dead_letter_from_record(
        dlq_topic=DLQ, partition=0, offset=0, timestamp_ms=None, key=None, value=envelope.to_bytes(), headers=headers
    )
    assert (letter.event_id, letter.event_version, letter.video_id) == (envelope.event_id, 99, "video-1")


def test_an_unparseable_record_with_bad_headers_still_lists() -> None:
    letter = dead_letter_from_record(
        dlq_topic=DLQ,
        partition=0,
        offset=0,
        timestamp_ms=None,
        key=b"\xff\xfe",
        value=b"\x00\x01 not json {",
        headers={"cf-dlq-reason": "unparseable", "cf-dlq-attempts": "many", "cf-dlq-failed-at": "yesterday"},
    )
    assert letter.reason == "unparseable"
    assert letter.event_id is None and letter.attempts is None and letter.failed_at is None
    assert letter.original_topic == TOPIC  # derived from the DLQ name when the header is missing
    assert letter.origin is None


def test_header_text_decodes_bytes_and_drops_empty_values() -> None:
    assert header_text([("a", b"x"), ("b", None), ("c", "y"), ("d", b"\xff")]) == {"a": "x", "c": "y", "d": "\ufffd"}


# ---------------------------------------------------------------------------------------- headers


def test_redrive_headers_keep_the_original_ones_and_drop_the_error_headers() -> None:
    envelope = _envelope()
    now = datetime(2026, 5, 6, 7, 8, 9, tzinfo=UTC)
    headers = redrive_headers(_dlq_headers(envelope), redriven_from=f"{DLQ}:3:11", now=now)
    assert not [name for name in headers if name.startswith("cf-dlq-")]
    for name, value in envelope.headers().items():
        assert headers[name] == value
    assert headers["traceparent"].startswith("00-0af7")
    assert headers[REDRIVEN_FROM_HEADER] == f"{DLQ}:3:11"
    assert headers[REDRIVEN_AT_HEADER] == now.isoformat()
    assert headers[REDRIVE_COUNT_HEADER] == "1"


def test_a_record_redriven_again_counts_up_and_names_its_latest_source() -> None:
    first = redrive_headers(_dlq_headers(_envelope()), redriven_from=f"{DLQ}:3:11")
    # It failed again: the consumer copies its headers (with the cf-redriven-* ones) into a new dead letter.
    failed_again = {**first, "cf-dlq-reason": "handler_error", "cf-dlq-attempts": "5"}
    second = redrive_headers(failed_again, redriven_from=f"{DLQ}:3:40")
    assert second[REDRIVE_COUNT_HEADER] == "2"
    assert second[REDRIVEN_FROM_HEADER] == f"{DLQ}:3:40"


# ---------------------------------------------------------------------------------------- filters


def test_filter_matches_only_on_the_fields_it_sets() -> None:
    letter = _letter(1, reason="unparseable", event_id="e1", consumer_group="g1", video_id="v1")
    assert DeadLetterFilter().matches(letter)
    assert DeadLetterFilter(reason="unparseable", consumer_group="g1").matches(letter)
    assert not DeadLetterFilter(reason="handler_error").matches(letter)
    assert not DeadLetterFilter(event_id="e2").matches(letter)
    assert not DeadLetterFilter(reason="unparseable", consumer_group="g2").matches(letter)


def test_plan_republishes_a_record_several_groups_failed_on_once_and_skips_redriven_ones() -> None:
    def raw(offset: int, group: str, original_offset: int, *, redriven: bool = False) -> _RawDeadLetter:
        letter = _letter(
            offset,
            original_topic=TOPIC,
            original_partition=3,
            original_offset=original_offset,
            consumer_group=group,
            reason="handler_error",
            redriven=redriven,
        )
        return _RawDeadLetter(letter, b"k", b"v", {})

    letters = [raw(0, "g1", 100), raw(1, "g2", 100), raw(2, "g1", 101, redriven=True), raw(3, "g1", 102)]
    plan = plan_redrive(letters, DeadLetterFilter())
    assert [[r.letter.offset for r in group] for group in plan] == [[0, 1], [3]]
    assert [
        [r.letter.offset for r in group] for group in plan_redrive(letters, DeadLetterFilter(consumer_group="g2"))
    ] == [[1]]


def test_select_latest_keeps_the_most_recent_oldest_first() -> None:
    def at(offset: int, second: int) -> DeadLetter:
        return _letter(offset, timestamp=datetime(2026, 1, 1, 0, 0, second, tzinfo=UTC))

    letters = [at(0, 5), at(1, 1), at(2, 9)]
    assert [d.offset for d in select_latest(letters, None)] == [1, 0, 2]
    assert [d.offset for d in select_latest(letters, 2)] == [0, 2]
    assert select_latest(letters, 0) == []


# ---------------------------------------------------------------------------------------- topics


def test_resolve_topic_accepts_a_catalog_topic_or_its_dlq() -> None:
    assert resolve_topic(TOPIC) == (TOPIC, DLQ)
    assert resolve_topic(DLQ) == (TOPIC, DLQ)
    assert resolve_topic("clipforge.thing.v2", ["clipforge.thing.v2.dlq"]) == (
        "clipforge.thing.v2",
        "clipforge.thing.v2.dlq",
    )
    with pytest.raises(UnknownTopicError, match=re.escape("'clipforge.nope.v1'")):
        resolve_topic("clipforge.nope.v1")


# ---------------------------------------------------------------------------------------- ledger


def test_the_committed_offset_advances_only_over_a_contiguous_prefix() -> None:
    ledger = RedriveLedger().with_redriven([5])  # a filtered redrive of a later record
    assert ledger.next_offset == 0  # records 0..4 are still pending, not skipped
    assert [o for o in range(7) if ledger.is_redriven(o)] == [5]
    ledger = ledger.with_redriven([0, 1, 2])
    assert (ledger.next_offset, ledger.handled) == (3, frozenset({5}))
    ledger = ledger.with_redriven([3, 4])
    assert (ledger.next_offset, ledger.handled) == (6, frozenset())


def test_records_deleted_by_retention_count_as_handled() -> None:
    ledger = RedriveLedger().with_redriven([12], log_start=10)
    assert (ledger.next_offset, ledger.handled) == (10, frozenset({12}))


def test_the_ledger_survives_a_commit_roundtrip() -> None:
    ledger = RedriveLedger(next_offset=4, handled=frozenset({6, 7, 8, 12, 20, 21}))
    metadata = ledger.to_metadata()
    assert metadata.endswith("6-8,12,20-21")
    assert RedriveLedger.from_commit(ledger.next_offset, metadata) == ledger
    assert RedriveLedger.from_commit(-1, "") == RedriveLedger()  # nothing committed yet
    assert RedriveLedger.from_commit(7, "") == RedriveLedger(next_offset=7)  # someone else's plain commit


@pytest.mark.parametrize("offsets", [set(), {0}, {3, 4, 5}, {1, 3, 5, 6, 7, 100}])
def test_ranges_roundtrip(offsets: set[int]) -> None:
    assert decode_ranges(encode_ranges(offsets)) == offsets


def test_a_ledger_too_sparse_for_kafka_commit_metadata_does_not_fit() -> None:
    assert RedriveLedger(next_offset=0, handled=frozenset(range(1, 100_000))).fits()  # one range
    assert not RedriveLedger(next_offset=0, handled=frozenset(range(1, 4000, 2))).fits()  # 2000 single offsets
