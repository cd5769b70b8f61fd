"""Dead letters: list what consumers gave up on, and redrive it to the original topic once fixed.

A consumer sends a record it cannot apply to ``<topic>.dlq`` with the original key, value and headers
plus ``cf-dlq-*`` error headers (see :mod:`clipforge_common.consumer`). This module reads those
records back as typed :class:`DeadLetter` rows and republishes chosen ones.

Redrive bookkeeping lives in Kafka, in the dedicated consumer group ``clipforge.dlq-redrive`` on the
DLQ topics (no database involved, so the CLI needs only the broker):

* The committed offset of each DLQ partition only advances over a *contiguous prefix* of redriven
  records. A filtered redrive (``--event-id``, ``--reason``) therefore never skips the unmatched
  records before it: they stay pending, and the group's lag is the number of records still waiting
  (standard Kafka tooling shows it).
* Records redriven *beyond* that prefix are remembered in the commit's metadata string as compact
  offset ranges (``5-7,12``). Kafka bounds the metadata (``offset.metadata.max.bytes``, 4096 by
  default); a redrive that would exceed it is refused with :class:`RedriveLedgerFull`, and redriving
  the older pending records of that partition shrinks it again.

Redrive is at-least-once: the records are published (idempotent producer, ``acks=all``) before the
ledger is committed, so a crash in between republishes them next time. That is harmless because
every consumer group drops an event_id it already applied (the inbox), which is also why
republishing to a topic that several groups consume only affects the groups that failed.
A redriven record lands at the end of its partition, after events of the same video published
since; handlers must already tolerate that (they see it as a late event).
"""

from __future__ import annotations

import asyncio
import json
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any

from aiokafka import AIOKafkaConsumer, AIOKafkaProducer, TopicPartition
from aiokafka.admin import AIOKafkaAdminClient
from aiokafka.structs import OffsetAndMetadata
from pydantic import BaseModel, ConfigDict, Field

from clipforge_common.consumer import DLQ_HEADER_PREFIX
from clipforge_common.envelope import ENVELOPE_HEADER_FIELDS, headers_to_envelope_fields
from clipforge_common.events import CATALOG
from clipforge_common.settings import Settings

DLQ_SUFFIX = ".dlq"
REDRIVE_GROUP = "clipforge.dlq-redrive"
REDRIVEN_AT_HEADER = "cf-redriven-at"
REDRIVEN_FROM_HEADER = "cf-redriven-from"
REDRIVE_COUNT_HEADER = "cf-redrive-count"
_REDRIVE_HEADERS = (REDRIVEN_AT_HEADER, REDRIVEN_FROM_HEADER, REDRIVE_COUNT_HEADER)
# Kafka refuses commit metadata above offset.metadata.max.bytes (4096 by default); keep a margin.
LEDGER_METADATA_MAX_CHARS = 4000
_LEDGER_FORMAT = "cf-dlq-ledger/1"
# Reading a DLQ to its end normally takes well under a second; this only guards against a hang.
READ_TIMEOUT_SECONDS = 60.0


class DlqError(Exception):
    """A dead-letter operation could not be carried out (the message says why)."""


class UnknownTopicError(DlqError):
    def __init__(self, topic: str) -> None:
        super().__init__(f"unknown topic {topic!r}: neither a catalog topic nor a dead-letter topic (<topic>.dlq)")
        self.topic = topic


class RedriveLedgerFull(DlqError):
    """The out-of-order redrives of one partition no longer fit in the commit metadata."""


# ---------------------------------------------------------------------------------------- models


class DeadLetter(BaseModel):
    """One record of a ``<topic>.dlq`` topic, with what the consumer said about it."""

    model_config = ConfigDict(frozen=True)

    dlq_topic: str
    partition: int
    offset: int
    timestamp: datetime | None = Field(default=None, description="when the record was written to the DLQ")
    original_topic: str | None = None
    original_partition: int | None = None
    original_offset: int | None = None
    reason: str | None = Field(default=None, examples=["unparseable", "invalid_payload", "handler_error"])
    error: str | None = None
    consumer_group: str | None = Field(default=None, description="the group that gave up on the record")
    attempts: int | None = None
    failed_at: datetime | None = None
    event_id: str | None = None
    event_type: str | None = None
    event_version: int | None = None
    video_id: str | None = None
    tenant_id: str | None = None
    correlation_id: str | None = None
    key: str | None = None
    redriven: bool = False
    redrive_count: int = Field(default=0, description="how many times the original record had been redriven before")

    @property
    def location(self) -> str:
        """``dlq topic:partition:offset``: the record's address, as written in ``cf-redriven-from``."""
        return f"{self.dlq_topic}:{self.partition}:{self.offset}"

    @property
    def origin(self) -> tuple[str, int, int] | None:
        """Where the record was consumed from; several groups failing on it share one origin."""
        if self.original_topic is None or self.original_partition is None or self.original_offset is None:
            return None
        return (self.original_topic, self.original_partition, self.original_offset)


class DeadLetterFilter(BaseModel):
    """Which dead letters an operation applies to; unset fields match everything."""

    reason: str | None = None
    event_id: str | None = None
    consumer_group: str | None = None
    video_id: str | None = None

    def matches(self, letter: DeadLetter) -> bool:
        return all(
            wanted is None or getattr(letter, name) == wanted
            for name, wanted in (
                ("reason", self.reason),
                ("event_id", self.event_id),
                ("consumer_group", self.consumer_group),
                ("video_id", self.video_id),
            )
        )


class RedrivenRecord(BaseModel):
    """One record republished (or, on a dry run, that would be) to its original topic."""

    topic: str
    key: str | None
    event_id: str | None
    event_type: str | None
    reason: str | None
    consumer_groups: list[str] = Field(description="the groups whose dead letters this one republish answers")
    redriven_from: list[str] = Field(description="dlq topic:partition:offset of every dead letter it answers")
    partition: int | None = Field(default=None, description="where it was published (None on a dry run)")
    offset: int | None = None


class RedriveResult(BaseModel):
    dlq_topic: str
    target_topic: str
    dry_run: bool
    republished: list[RedrivenRecord] = Field(default_factory=list)
    marked: int = Field(default=0, description="dead letters marked redriven (one republish may answer several)")


# ---------------------------------------------------------------------------------------- topics


def catalog_topics() -> set[str]:
    return {spec.topic for spec in CATALOG}


def resolve_topic(topic: str, existing_dlq_topics: Iterable[str] = ()) -> tuple[str, str]:
    """``(original topic, dlq topic)`` for either name; :class:`UnknownTopicError` if neither is known.

    Known means a catalog topic, or a ``*.dlq`` topic present in the cluster (say, of a newer version
    than this checkout's catalog knows).
    """
    original = topic.removesuffix(DLQ_SUFFIX)
    dlq = original + DLQ_SUFFIX
    if original in catalog_topics() or dlq in set(existing_dlq_topics):
        return original, dlq
    raise UnknownTopicError(topic)


# ---------------------------------------------------------------------------------------- records


def header_text(headers: Iterable[tuple[str, bytes | str | None]] | Mapping[str, bytes | str | None]) -> dict[str, str]:
    """Kafka headers as text (the ``cf-*`` headers are UTF-8; anything else is decoded leniently)."""
    items = headers.items() if isinstance(headers, Mapping) else headers
    out: dict[str, str] = {}
    for name, value in items:
        if value is None:
            continue
        out[name] = value.decode(errors="replace") if isinstance(value, bytes) else str(value)
    return out


def _as_int(text: str | None) -> int | None:
    try:
        return int(text) if text is not None else None
    except ValueError:
        return None


def _as_datetime(text: str | None) -> datetime | None:
    if not text:
        return None
    try:
        value = datetime.fromisoformat(text)
    except ValueError:
        return None
    return value if value.tzinfo else value.replace(tzinfo=UTC)


def _envelope_fields_from_body(value: bytes) -> dict[str, str]:
    """Envelope fields from a body that may be anything: a dead letter is often not a valid event."""
    try:
        body = json.loads(value)
    except (ValueError, UnicodeDecodeError):
        return {}
    if not isinstance(body, dict):
        return {}
    return {name: str(body[name]) for name in ENVELOPE_HEADER_FIELDS if isinstance(body.get(name), str | int)}


def dead_letter_from_record(
    *,
    dlq_topic: str,
    partition: int,
    offset: int,
    timestamp_ms: int | None,
    key: bytes | None,
    value: bytes | None,
    headers: Mapping[str, str],
    redriven: bool = False,
) -> DeadLetter:
    """Type one DLQ record: error details from ``cf-dlq-*``, envelope fields from ``cf-*`` or the body."""
    # The headers mirror the envelope, but an unparseable or header-less record may only have a body.
    envelope = {**_envelope_fields_from_body(value or b""), **headers_to_envelope_fields(dict(headers))}

    def dlq(name: str) -> str | None:
        return headers.get(DLQ_HEADER_PREFIX + name)

    return DeadLetter(
        dlq_topic=dlq_topic,
        partition=partition,
        offset=offset,
        timestamp=datetime.fromtimestamp(timestamp_ms / 1000, UTC) if timestamp_ms is not None else None,
        original_topic=dlq("original-topic") or dlq_topic.removesuffix(DLQ_SUFFIX),
        original_partition=_as_int(dlq("original-partition")),
        original_offset=_as_int(dlq("original-offset")),
        reason=dlq("reason"),
        error=dlq("error"),
        consumer_group=dlq("consumer-group"),
        attempts=_as_int(dlq("attempts")),
        failed_at=_as_datetime(dlq("failed-at")),
        event_id=envelope.get("event_id"),
        event_type=envelope.get("event_type"),
        event_version=_as_int(envelope.get("event_version")),
        video_id=envelope.get("video_id"),
        tenant_id=envelope.get("tenant_id"),
        correlation_id=envelope.get("correlation_id"),
        key=key.decode(errors="replace") if key is not None else None,
        redriven=redriven,
        redrive_count=_as_int(headers.get(REDRIVE_COUNT_HEADER)) or 0,
    )


def redrive_headers(
    dlq_headers: Mapping[str, str], *, redriven_from: str, now: datetime | None = None
) -> dict[str, str]:
    """The original record's headers again (``cf-*``, ``traceparent``…) without the ``cf-dlq-*`` error
    headers, plus where and when it was redriven and how many times so far."""
    kept = {
        name: value
        for name, value in dlq_headers.items()
        if not name.startswith(DLQ_HEADER_PREFIX) and name not in _REDRIVE_HEADERS
    }
    count = (_as_int(dlq_headers.get(REDRIVE_COUNT_HEADER)) or 0) + 1
    kept[REDRIVEN_AT_HEADER] = (now or datetime.now(UTC)).isoformat()
    kept[REDRIVEN_FROM_HEADER] = redriven_from
    kept[REDRIVE_COUNT_HEADER] = str(count)
    return kept


def select_latest(letters: Sequence[DeadLetter], limit: int | None) -> list[DeadLetter]:
    """The ``limit`` most recent dead letters, oldest first (all of them when limit is None)."""
    ordered = sorted(
        letters,
        key=lambda d: (d.timestamp or datetime.min.replace(tzinfo=UTC), d.dlq_topic, d.partition, d.offset),
    )
    return ordered if limit is None else ordered[-limit:] if limit > 0 else []


# ---------------------------------------------------------------------------------------- ledger


class RedriveLedger(BaseModel):
    """Which records of one DLQ partition were redriven: every offset below ``next_offset``, plus
    ``handled`` above it (the committed offset and its metadata in the redrive consumer group)."""

    model_config = ConfigDict(frozen=True)

    next_offset: int = 0
    handled: frozenset[int] = frozenset()

    def is_redriven(self, offset: int) -> bool:
        return offset < self.next_offset or offset in self.handled

    def with_redriven(self, offsets: Iterable[int], log_start: int = 0) -> RedriveLedger:
        """Add redriven offsets; the committed offset advances only while the prefix is contiguous."""
        next_offset = max(self.next_offset, log_start)  # records deleted by retention are gone anyway
        handled = set(self.handled) | set(offsets)
        while next_offset in handled:
            next_offset += 1
        return RedriveLedger(next_offset=next_offset, handled=frozenset(o for o in handled if o > next_offset))

    def to_metadata(self) -> str:
        return f"{_LEDGER_FORMAT} {encode_ranges(self.handled)}".rstrip()

    @classmethod
    def from_commit(cls, offset: int, metadata: str | None) -> RedriveLedger:
        """Read a committed offset (-1: none yet) and its metadata back."""
        handled: set[int] = set()
        if metadata and metadata.startswith(_LEDGER_FORMAT):
            handled = decode_ranges(metadata[len(_LEDGER_FORMAT) :].strip())
        return cls(next_offset=max(offset, 0)).with_redriven(handled)

    def fits(self) -> bool:
        """Whether Kafka will accept this ledger as commit metadata."""
        return len(self.to_metadata()) <= LEDGER_METADATA_MAX_CHARS


def encode_ranges(offsets: Iterable[int]) -> str:
    """``{5, 6, 7, 12}`` → ``"5-7,12"``."""
    parts: list[str] = []
    run: list[int] = []
    for offset in sorted(set(offsets)):
        if run and offset == run[-1] + 1:
            run.append(offset)
            continue
        if run:
            parts.append(str(run[0]) if len(run) == 1 else f"{run[0]}-{run[-1]}")
        run = [offset]
    if run:
        parts.append(str(run[0]) if len(run) == 1 else f"{run[0]}-{run[-1]}")
    return ",".join(parts)


def decode_ranges(text: str) -> set[int]:
    out: set[int] = set()
    for part in filter(None, (p.strip() for p in text.split(","))):
        first, _, last = part.partition("-")
        out.update(range(int(first), int(last or first) + 1))
    return out


# ---------------------------------------------------------------------------------------- Kafka


@dataclass(frozen=True)
class _RawDeadLetter:
    """A dead letter with the bytes needed to republish it."""

    letter: DeadLetter
    key: bytes | None
    value: bytes | None
    headers: dict[str, str]


async def existing_dlq_topics(settings: Settings) -> dict[str, list[int]]:
    """Every ``*.dlq`` topic in the cluster and its partitions."""
    admin = AIOKafkaAdminClient(bootstrap_servers=settings.kafka_bootstrap, client_id=settings.kafka_client_id)
    await admin.start()
    try:
        names = sorted(t for t in await admin.list_topics() if t.endswith(DLQ_SUFFIX))
        if not names:
            return {}
        described = await admin.describe_topics(names)
        return {d["topic"]: sorted(p["partition"] for p in d["partitions"]) for d in described if not d["error_code"]}
    finally:
        await admin.close()


async def _dlq_partitions(settings: Settings, topic: str | None) -> tuple[str | None, dict[str, list[int]]]:
    """The DLQ partitions to read: of ``topic`` (either name) or of every DLQ topic; and its original."""
    existing = await existing_dlq_topics(settings)
    if topic is None:
        return None, existing
    original, dlq = resolve_topic(topic, existing)
    return original, {dlq: existing.get(dlq, [])}  # a catalog DLQ not created yet holds nothing


async def load_ledgers(
    settings: Settings, partitions: Sequence[TopicPartition], group: str = REDRIVE_GROUP
) -> dict[TopicPartition, RedriveLedger]:
    if not partitions:
        return {}
    admin = AIOKafkaAdminClient(bootstrap_servers=settings.kafka_bootstrap, client_id=settings.kafka_client_id)
    await admin.start()
    try:
        committed = await admin.list_consumer_group_offsets(group, partitions=list(partitions))
    finally:
        await admin.close()
    ledgers: dict[TopicPartition, RedriveLedger] = {}
    for tp in partitions:
        found = committed.get(tp)
        ledgers[tp] = RedriveLedger.from_commit(found.offset, found.metadata) if found else RedriveLedger()
    return ledgers


def _refuse_unless_fits(ledgers: Mapping[TopicPartition, RedriveLedger]) -> None:
    for tp, ledger in ledgers.items():
        if not ledger.fits():
            raise RedriveLedgerFull(
                f"{tp.topic} partition {tp.partition}: too many records redriven out of order to remember; "
                f"redrive the older pending records of this partition first (clipforge dlq list --topic {tp.topic})"
            )


def _offsets_by_partition(letters: Iterable[DeadLetter]) -> dict[TopicPartition, set[int]]:
    by_partition: dict[TopicPartition, set[int]] = {}
    for letter in letters:
        by_partition.setdefault(_tp(letter), set()).add(letter.offset)
    return by_partition


async def _commit_ledgers(
    settings: Settings, ledgers: Mapping[TopicPartition, RedriveLedger], group: str = REDRIVE_GROUP
) -> None:
    _refuse_unless_fits(ledgers)
    # A commit from outside any group generation: nobody ever joins this group, it is only a ledger.
    consumer = AIOKafkaConsumer(
        bootstrap_servers=settings.kafka_bootstrap, group_id=group, enable_auto_commit=False, client_id=group
    )
    await consumer.start()
    try:
        consumer.assign(list(ledgers))
        await consumer.commit(
            {tp: OffsetAndMetadata(ledger.next_offset, ledger.to_metadata()) for tp, ledger in ledgers.items()}
        )
    finally:
        await consumer.stop()


async def _read_partitions(
    settings: Settings, starts: Mapping[TopicPartition, int]
) -> tuple[list[tuple[TopicPartition, Any]], dict[TopicPartition, int]]:
    """Every record from ``starts[tp]`` to the end offset each partition had when reading began, and
    each partition's first offset still stored."""
    if not starts:
        return [], {}
    consumer = AIOKafkaConsumer(
        bootstrap_servers=settings.kafka_bootstrap,
        group_id=None,
        enable_auto_commit=False,
        auto_offset_reset="earliest",
    )
    await consumer.start()
    try:
        partitions = list(starts)
        ends = await consumer.end_offsets(partitions)
        beginnings = await consumer.beginning_offsets(partitions)
        from_offsets = {tp: max(starts[tp], beginnings[tp]) for tp in partitions}
        pending = {tp: start for tp, start in from_offsets.items() if start < ends[tp]}
        out: list[tuple[TopicPartition, Any]] = []
        if not pending:
            return out, beginnings
        consumer.assign(list(pending))
        for tp, start in pending.items():
            consumer.seek(tp, start)
        loop = asyncio.get_running_loop()
        deadline = loop.time() + READ_TIMEOUT_SECONDS
        while pending:
            if loop.time() > deadline:
                raise DlqError(f"timed out reading {sorted(f'{tp.topic}:{tp.partition}' for tp in pending)}")
            batch = await consumer.getmany(*pending, timeout_ms=500)
            for tp, records in batch.items():
                out.extend((tp, record) for record in records if record.offset < ends[tp])
            for tp in list(pending):
                # The position, not the last offset seen: it also steps over offsets that hold no record.
                if await consumer.position(tp) >= ends[tp]:
                    del pending[tp]
        return out, beginnings
    finally:
        await consumer.stop()


@dataclass(frozen=True)
class _DlqSnapshot:
    """Dead letters read from some DLQ partitions, with the redrive ledger they were judged by."""

    letters: list[_RawDeadLetter]
    ledgers: dict[TopicPartition, RedriveLedger]
    log_starts: dict[TopicPartition, int]


async def _read_dead_letters(
    settings: Settings, partitions: Mapping[str, Sequence[int]], *, include_redriven: bool, ledger_group: str
) -> _DlqSnapshot:
    tps = [TopicPartition(topic, p) for topic, parts in partitions.items() for p in parts]
    ledgers = await load_ledgers(settings, tps, ledger_group)
    # Pending-only reads start at the committed offset: everything before it was redriven.
    starts = {tp: 0 if include_redriven else ledgers[tp].next_offset for tp in tps}
    records, log_starts = await _read_partitions(settings, starts)
    letters: list[_RawDeadLetter] = []
    for tp, record in records:
        headers = header_text(record.headers or ())
        letter = dead_letter_from_record(
            dlq_topic=tp.topic,
            partition=tp.partition,
            offset=record.offset,
            timestamp_ms=record.timestamp,
            key=record.key,
            value=record.value,
            headers=headers,
            redriven=ledgers[tp].is_redriven(record.offset),
        )
        if include_redriven or not letter.redriven:
            letters.append(_RawDeadLetter(letter, record.key, record.value, headers))
    return _DlqSnapshot(letters, ledgers, log_starts)


async def list_dead_letters(
    settings: Settings,
    topic: str | None = None,
    *,
    include_redriven: bool = False,
    where: DeadLetterFilter | None = None,
    limit: int | None = None,
    ledger_group: str = REDRIVE_GROUP,
) -> list[DeadLetter]:
    """Dead letters of ``topic`` (original or ``.dlq`` name) or of every DLQ topic, oldest first.

    Only those not redriven yet unless ``include_redriven``; ``limit`` keeps the most recent ones.
    """
    _, partitions = await _dlq_partitions(settings, topic)
    snapshot = await _read_dead_letters(
        settings, partitions, include_redriven=include_redriven, ledger_group=ledger_group
    )
    where = where or DeadLetterFilter()
    return select_latest([r.letter for r in snapshot.letters if where.matches(r.letter)], limit)


def plan_redrive(letters: Sequence[_RawDeadLetter], where: DeadLetterFilter) -> list[list[_RawDeadLetter]]:
    """Matching pending dead letters grouped by origin: when several consumer groups dead-lettered the
    same original record, it is republished once (each group consumes the one copy)."""
    groups: dict[object, list[_RawDeadLetter]] = {}
    for raw in letters:
        if raw.letter.redriven or not where.matches(raw.letter):
            continue
        groups.setdefault(raw.letter.origin or raw.letter.location, []).append(raw)
    return list(groups.values())


async def redrive(
    settings: Settings,
    topic: str,
    *,
    where: DeadLetterFilter | None = None,
    dry_run: bool = False,
    ledger_group: str = REDRIVE_GROUP,
) -> RedriveResult:
    """Republish the pending dead letters of ``topic`` that match ``where`` to the original topic, and
    mark them redriven so a second redrive leaves them alone. ``dry_run`` only says what it would do."""
    original, partitions = await _dlq_partitions(settings, topic)
    assert original is not None  # a topic was named
    snapshot = await _read_dead_letters(settings, partitions, include_redriven=False, ledger_group=ledger_group)
    plan = plan_redrive(snapshot.letters, where or DeadLetterFilter())
    result = RedriveResult(dlq_topic=original + DLQ_SUFFIX, target_topic=original, dry_run=dry_run)
    if not plan:
        return result
    republished = [
        RedrivenRecord(
            topic=original,
            key=group[0].letter.key,
            event_id=group[0].letter.event_id,
            event_type=group[0].letter.event_type,
            reason=group[0].letter.reason,
            consumer_groups=sorted({g.letter.consumer_group for g in group if g.letter.consumer_group}),
            redriven_from=[g.letter.location for g in group],
        )
        for group in plan
    ]
    marked = [g.letter for group in plan for g in group]
    if dry_run:
        return result.model_copy(update={"republished": republished, "marked": 0})
    # Refuse before publishing anything when the marks could not be committed afterwards.
    _refuse_unless_fits(
        {
            tp: snapshot.ledgers[tp].with_redriven(offsets, snapshot.log_starts.get(tp, 0))
            for tp, offsets in _offsets_by_partition(marked).items()
        }
    )
    producer = AIOKafkaProducer(
        bootstrap_servers=settings.kafka_bootstrap, acks="all", enable_idempotence=True, client_id=ledger_group
    )
    await producer.start()
    try:
        for index, group in enumerate(plan):
            first = group[0]
            headers = redrive_headers(first.headers, redriven_from=first.letter.location)
            sent = await producer.send_and_wait(
                original, first.value, key=first.key, headers=[(k, v.encode()) for k, v in headers.items()]
            )
            republished[index] = republished[index].model_copy(
                update={"partition": sent.partition, "offset": sent.offset}
            )
    finally:
        await producer.stop()
    await _mark_redriven(settings, marked, snapshot.ledgers, snapshot.log_starts, ledger_group)
    return result.model_copy(update={"republished": republished, "marked": len(marked)})


def _tp(letter: DeadLetter) -> TopicPartition:
    return TopicPartition(letter.dlq_topic, letter.partition)


async def _mark_redriven(
    settings: Settings,
    letters: Sequence[DeadLetter],
    ledgers: Mapping[TopicPartition, RedriveLedger],
    log_starts: Mapping[TopicPartition, int],
    group: str,
    rounds: int = 3,
) -> None:
    """Commit the ledgers with ``letters`` added. Commits are last-writer-wins, so a redrive running at
    the same time could drop our marks: read back, merge and commit again if that happened."""
    by_partition = _offsets_by_partition(letters)
    current = {tp: ledgers[tp] for tp in by_partition}
    for _ in range(rounds):
        updated = {
            tp: current[tp].with_redriven(offsets, log_starts.get(tp, 0)) for tp, offsets in by_partition.items()
        }
        await _commit_ledgers(settings, updated, group)
        current = await load_ledgers(settings, list(by_partition), group)
        if all(current[tp].is_redriven(o) for tp, offsets in by_partition.items() for o in offsets):
            return
    raise DlqError("the redrive ledger kept changing under a concurrent redrive; the records were republished")
