"""Pure parts of `clipforge replay`: partitioning, summaries, ordering, re-rank selection, version names."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest
from aiokafka.partitioner import DefaultPartitioner
from clipforge_common.envelope import Envelope
from clipforge_common.replay import (
    HistoryEntry,
    TopicRecord,
    VideoIndex,
    history_entry,
    order_history,
    partition_for,
    rank_requests,
    select_targets,
    summarize,
)
from clipforge_gateway.projections.versions import ProjectionError, ProjectionTarget

T0 = datetime(2026, 1, 1, tzinfo=UTC)


def env(event_type: str, video_id: str, tenant_id: str = "t1", at: datetime = T0, **data: object) -> Envelope:
    return Envelope(
        event_type=event_type,
        event_version=1,
        producer="tests@0",
        tenant_id=tenant_id,
        video_id=video_id,
        correlation_id="c",
        occurred_at=at,
        data=dict(data),
    )


@pytest.mark.parametrize("partitions", [1, 3, 6, 12])
def test_partition_matches_the_producers_partitioner(partitions: int) -> None:
    all_partitions = list(range(partitions))
    for i in range(200):
        key = f"vid-{i:04d}".encode()
        assert partition_for(key, partitions) == DefaultPartitioner()(key, all_partitions, all_partitions)


def test_partition_needs_a_partition() -> None:
    with pytest.raises(ValueError):
        partition_for(b"x", 0)


def test_failure_summary_leads_with_the_reason_code() -> None:
    line = summarize("clip.render_failed", {"reason_code": "ffmpeg_failed", "message": "boom", "clip_id": "c1"})
    assert line.startswith("ffmpeg_failed: boom")
    assert "clip_id=c1" in line
    assert summarize("video.ingest_failed", {"reason_code": "no_audio_track", "message": "x" * 500}).endswith("…")


def test_summaries_of_domain_events() -> None:
    ranked = {"ranker_version": "r2", "clips": [{"score": 0.5}, {"score": 0.9}]}
    assert summarize("clips.ranked", ranked) == "ranker r2: 2 clips, best score 0.900"
    assert summarize("rank.requested", {"ranker_version": None, "settings": {}}) == "ranker service default"
    assert summarize("video.deleted", {"reason": "gone"}) == "deleted (gone)"
    assert summarize("unknown.type", {"a": 1}) == "a=1"


def test_history_is_ordered_by_time_across_topics() -> None:
    def entry(topic: str, offset: int, at: datetime, event_id: str) -> HistoryEntry:
        return HistoryEntry(
            occurred_at=at,
            topic=topic,
            partition=0,
            offset=offset,
            event_type="x",
            event_version=1,
            event_id=event_id,
            producer="p",
            tenant_id="t",
            video_id="v",
            correlation_id="c",
            summary="",
        )

    a = entry("clipforge.a.v1", 0, T0 + timedelta(seconds=2), "2")
    b = entry("clipforge.b.v1", 5, T0, "0")
    c = entry("clipforge.a.v1", 1, T0 + timedelta(seconds=3), "3")
    d = entry("clipforge.c.v1", 0, T0 + timedelta(seconds=1), "1")
    assert [e.event_id for e in order_history([a, c, b, d])] == ["0", "1", "2", "3"]


def test_history_entry_skips_what_is_not_an_envelope() -> None:
    assert history_entry(TopicRecord("t", 0, 0, b"v", b"\x00 not json")) is None
    e = env("transcript.failed", "v1", reason_code="asr_failed", message="m")
    entry = history_entry(TopicRecord("t", 2, 7, b"v1", e.to_bytes()))
    assert entry is not None
    assert (entry.event_id, entry.partition, entry.offset, entry.summary) == (e.event_id, 2, 7, "asr_failed: m")


def test_rerank_selects_transcribed_live_videos_of_the_tenant() -> None:
    index = VideoIndex()
    for e in [
        env("transcript.completed", "a", "t1"),
        env("transcript.completed", "a", "t1", at=T0 + timedelta(minutes=1)),  # re-transcribed: latest counts
        env("transcript.completed", "b", "t1"),
        env("transcript.completed", "c", "t2"),
        env("transcript.completed", "d", "t1"),
        env("video.deleted", "d", "t1"),
    ]:
        index.add(e)
    targets, missing = select_targets(index, tenants={"t1"})
    assert [t.video_id for t in targets] == ["a", "b"]
    assert targets[0].transcribed_at == T0 + timedelta(minutes=1)
    assert missing == []
    targets, missing = select_targets(index, video_ids={"c", "d", "zz"})
    assert [t.video_id for t in targets] == ["c"]
    assert missing == ["d", "zz"]


def test_rank_requests_carry_operator_correlation_and_cause() -> None:
    index = VideoIndex()
    cause = env("transcript.completed", "a", "t1")
    index.add(cause)
    targets, _ = select_targets(index)
    [event] = rank_requests(
        targets, ranker_version="r9", ranker_settings={"k": 1}, producer="replay:ops@1", correlation_id="run-1"
    )
    assert (event.event_type, event.video_id, event.tenant_id) == ("rank.requested", "a", "t1")
    assert (event.producer, event.correlation_id, event.causation_id) == ("replay:ops@1", "run-1", cause.event_id)
    assert event.data == {"ranker_version": "r9", "settings": {"k": 1}}


def test_projection_version_names() -> None:
    base = ProjectionTarget.for_version(0, base_group="g", base_namespace="ns:")
    assert (base.schema_name, base.group_id, base.namespace, base.search_path) == ("public", "g", "ns:", "public")
    v3 = ProjectionTarget.for_version(3, base_group="g", base_namespace="ns:")
    assert (v3.schema_name, v3.group_id, v3.namespace) == ("projection_v3", "g.v3", "ns:v3:")
    assert v3.search_path == '"projection_v3", public'
    assert ProjectionTarget.for_version(2).group_id == "clipforge.gateway.v2"
    assert ProjectionTarget.for_version(2).namespace == "v2:"
    with pytest.raises(ProjectionError):
        ProjectionTarget.for_version(-1)
