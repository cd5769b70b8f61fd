"""The video projection as a pure function: stage transitions, failures, and order independence."""

from __future__ import annotations

import itertools
from datetime import UTC, datetime, timedelta
from typing import Any

from clipforge_gateway.domain.state import VideoState, apply_event, progress_of, status_of

T0 = datetime(2026, 1, 1, tzinfo=UTC)


def at(seconds: float) -> datetime:
    return T0 + timedelta(seconds=seconds)


INGESTED = {
    "duration": 61.5,
    "width": 640,
    "height": 360,
    "fps": 25.0,
    "size": 1234,
    "sha256": "ab" * 32,
    "source_key": "videos/v/source.mp4",
    "audio_key": "videos/v/audio.wav",
}
RANKED = {"ranker_version": "r1", "clips": [{"clip_id": "c1", "start": 0, "end": 30, "score": 80}]}
HAPPY_PATH: list[tuple[str, dict[str, Any], datetime]] = [
    ("ingest.requested", {"project_id": "p", "source": {"kind": "upload", "key": "videos/v/source.mp4"}}, at(0)),
    ("pipeline.progress", {"stage": "ingest", "percent": 50}, at(1)),
    ("video.ingested", INGESTED, at(2)),
    ("pipeline.progress", {"stage": "transcribe", "percent": 40, "message": "chunk 2/5"}, at(3)),
    ("transcript.completed", {"transcript_key": "transcripts/v.json"}, at(4)),
    ("clips.ranked", RANKED, at(5)),
    ("pipeline.progress", {"stage": "render", "percent": 10, "clip_id": "c1"}, at(6)),
    ("clip.rendered", {"clip_id": "c1", "preset": "vertical"}, at(7)),
]


def fold(events: list[tuple[str, dict[str, Any], datetime]]) -> VideoState:
    state = VideoState("v", "t")
    for event_type, data, when in events:
        state = apply_event(state, event_type, data, when)
    return state


def test_happy_path() -> None:
    state = fold(HAPPY_PATH)
    assert {n: s.status for n, s in state.stages.items()} == {
        "ingest": "done",
        "transcribe": "done",
        "rank": "done",
        "render": "done",
    }
    assert state.metadata is not None and state.metadata["duration"] == 61.5
    assert "audio_key" not in state.metadata and "source_key" not in state.metadata  # keys stay internal
    assert state.project_id == "p" and state.ranker_version == "r1" and state.clip_count == 1
    assert status_of(state) == "ready" and progress_of(state) == 100.0


def test_any_delivery_order_gives_the_same_state() -> None:
    # Events of one video come from different topics: a replay may interleave them differently.
    expected = fold(HAPPY_PATH)
    sample = HAPPY_PATH[:6]
    expected6 = fold(sample)
    for order in itertools.permutations(sample):
        assert fold(list(order)) == expected6
    assert fold(list(reversed(HAPPY_PATH))) == expected


def test_progress_moves_a_stage_to_running_and_is_ignored_once_it_is_done() -> None:
    state = fold(HAPPY_PATH[:2])
    assert state.stage("ingest").status == "running" and state.stage("ingest").percent == 50
    assert status_of(state) == "processing"
    state = apply_event(state, "video.ingested", INGESTED, at(2))
    late = apply_event(state, "pipeline.progress", {"stage": "ingest", "percent": 99}, at(1.5))
    assert late.stage("ingest").status == "done" and late.stage("ingest").percent == 100


def test_a_failure_is_reported_then_cleared_by_a_newer_success() -> None:
    state = fold(HAPPY_PATH[:3])
    state = apply_event(state, "transcript.failed", {"reason_code": "asr_crashed", "message": "boom"}, at(3))
    assert status_of(state) == "failed"
    assert state.failure == {
        "reason_code": "asr_crashed",
        "message": "boom",
        "stage": "transcribe",
        "at": at(3).isoformat(),
    }
    assert state.stage("transcribe").reason_code == "asr_crashed"
    # An older success (delivered late) does not hide the newer failure...
    assert apply_event(state, "transcript.completed", {}, at(2.5)).failure is not None
    # ...a newer one (a retry that worked) does.
    retried = apply_event(state, "transcript.completed", {}, at(10))
    assert retried.failure is None and status_of(retried) == "processing"


def test_render_failure_names_the_clip() -> None:
    state = fold(HAPPY_PATH[:6])
    state = apply_event(
        state, "clip.render_failed", {"clip_id": "c1", "preset": "square", "reason_code": "x", "message": "m"}, at(8)
    )
    assert state.failure is not None and state.failure["clip_id"] == "c1" and state.failure["preset"] == "square"


def test_rerank_goes_back_to_pending_and_an_older_ranking_never_wins() -> None:
    state = fold(HAPPY_PATH[:6])
    state = apply_event(state, "rank.requested", {}, at(10))
    assert state.stage("rank").status == "pending"
    newer = {"ranker_version": "r2", "clips": [{"clip_id": "a"}, {"clip_id": "b"}]}
    state = apply_event(state, "clips.ranked", newer, at(11))
    assert (state.ranker_version, state.clip_count) == ("r2", 2)
    state = apply_event(state, "clips.ranked", RANKED, at(5))  # redelivered old ranking
    assert (state.ranker_version, state.clip_count) == ("r2", 2)


def test_deletion_is_final() -> None:
    state = apply_event(fold(HAPPY_PATH[:3]), "video.deleted", {}, at(3))
    assert status_of(state) == "deleted"
    assert apply_event(state, "video.ingested", INGESTED, at(9)) == state
    assert apply_event(state, "pipeline.progress", {"stage": "rank", "percent": 5}, at(9)) == state


def test_queued_until_something_happens() -> None:
    state = fold(HAPPY_PATH[:1])
    assert status_of(state) == "queued" and progress_of(state) == 0.0
    assert status_of(apply_event(state, "pipeline.progress", {"stage": "ingest", "percent": 0}, at(1))) == "processing"


def test_ready_waits_for_requested_renders() -> None:
    state = fold(HAPPY_PATH[:6])
    assert status_of(state) == "ready"
    state = apply_event(state, "render.requested", {"clip_id": "c1", "preset": "square"}, at(9))
    assert status_of(state) == "processing"
    state = apply_event(state, "clip.rendered", {"clip_id": "c1", "preset": "square"}, at(10))
    assert status_of(state) == "ready"


def test_progress_is_clamped_and_needs_a_stage() -> None:
    state = fold(HAPPY_PATH[:1])
    assert apply_event(state, "pipeline.progress", {"stage": "", "percent": 5}, at(1)) == state
    over = apply_event(state, "pipeline.progress", {"stage": "ingest", "percent": 250}, at(1))
    assert over.stage("ingest").percent == 100
