"""`clipforge replay history` and `clipforge replay rerank` against the real topics."""

from __future__ import annotations

import asyncio
import json
import uuid
from datetime import timedelta

import pytest
from clipforge_cli.main import app
from clipforge_common import __version__
from clipforge_common.envelope import Envelope
from clipforge_common.events import TranscriptCompleted
from clipforge_common.replay import read_records, rerank, video_history
from clipforge_common.settings import Settings
from typer.testing import CliRunner

from tests.integration.common.clip_services import TEST_PRODUCER, event, publish, topic


def transcript(video_id: str, tenant_id: str) -> Envelope:
    data = TranscriptCompleted(
        transcript_key=f"transcripts/{video_id}.json",
        engine="pocketsphinx",
        engine_version="5",
        language="en",
        word_count=10,
        duration=12.0,
    )
    return event("transcript.completed", data, video_id=video_id, tenant_id=tenant_id)


def history_events(video_id: str, tenant_id: str) -> list[Envelope]:
    """Events of one video across topics, in an order unlike the catalog's (rank.requested before clips.ranked)."""
    fail = {"reason_code": "asr_failed", "message": "no speech"}
    ranked = {"ranker_version": "r1", "clips": [{"clip_id": "c1", "start": 0, "end": 10, "score": 50}]}
    specs = [
        ("transcript.failed", fail),
        ("clips.ranked", ranked),
        ("rank.requested", {"ranker_version": "r2"}),
        ("clips.ranked", {**ranked, "ranker_version": "r2"}),
        ("clip.render_failed", {"reason_code": "ffmpeg_failed", "message": "boom", "clip_id": "c1", "preset": "v"}),
        ("video.deleted", {"reason": "test"}),
    ]
    out = [event(t, d, video_id=video_id, tenant_id=tenant_id) for t, d in specs]
    # Strictly increasing times (the order they happen), whatever the clock's resolution.
    base = out[0].occurred_at
    return [e.model_copy(update={"occurred_at": base + timedelta(milliseconds=i)}) for i, e in enumerate(out)]


async def test_history_of_a_video_in_order_without_other_videos(stack: Settings) -> None:
    tenant = f"tenant-{uuid.uuid4().hex[:8]}"
    video, other = f"vid-{uuid.uuid4().hex[:12]}", f"vid-{uuid.uuid4().hex[:12]}"
    mine = history_events(video, tenant)
    theirs = history_events(other, tenant)
    interleaved = [e for pair in zip(mine, theirs, strict=True) for e in pair]
    await publish(stack, *interleaved)

    entries = await video_history(stack, video)
    assert {e.video_id for e in entries} == {video}
    assert not {e.event_id for e in theirs} & {e.event_id for e in entries}
    ours = [e for e in entries if e.producer == TEST_PRODUCER]
    assert [e.event_id for e in ours] == [e.event_id for e in mine]
    assert [e.topic for e in ours] == [topic(e.event_type) for e in mine]
    assert ours[0].summary.startswith("asr_failed")
    assert ours[4].summary.startswith("ffmpeg_failed: boom")


def test_history_command(stack: Settings) -> None:
    tenant = f"tenant-{uuid.uuid4().hex[:8]}"
    video = f"vid-{uuid.uuid4().hex[:12]}"
    mine = history_events(video, tenant)
    asyncio.run(publish(stack, *mine))
    runner = CliRunner()

    result = runner.invoke(app, ["replay", "history", video, "--json"])
    assert result.exit_code == 0, result.output
    doc = json.loads(result.stdout)
    assert [e["event_id"] for e in doc if e["producer"] == TEST_PRODUCER] == [e.event_id for e in mine]

    table = runner.invoke(app, ["replay", "history", video])
    assert table.exit_code == 0
    assert f"{len(mine)} events" in table.stdout and "clip.render_failed v1" in table.stdout

    missing = runner.invoke(app, ["replay", "history", f"vid-none-{uuid.uuid4().hex}"])
    assert missing.exit_code == 1
    assert "no events found" in missing.output


async def rank_requests_of(stack: Settings, correlation_id: str) -> list[Envelope]:
    found = []
    async for record in read_records(stack, [topic("rank.requested")]):
        env = Envelope.from_bytes(record.value)
        if env.correlation_id == correlation_id:
            found.append(env)
    return found


@pytest.mark.slow
async def test_rerank_requests_each_matching_video_once(stack: Settings) -> None:
    mine, theirs = f"tenant-{uuid.uuid4().hex[:8]}", f"tenant-{uuid.uuid4().hex[:8]}"
    a, b, deleted, other = (f"vid-{uuid.uuid4().hex[:12]}" for _ in range(4))
    first = transcript(a, mine)
    retranscribed = transcript(a, mine)
    retranscribed = retranscribed.model_copy(update={"occurred_at": first.occurred_at + timedelta(seconds=1)})
    await publish(
        stack,
        first,
        retranscribed,  # two transcripts of one video: still one request, caused by the latest
        transcript(b, mine),
        transcript(deleted, mine),
        event("video.deleted", {"reason": "gone"}, video_id=deleted, tenant_id=mine),
        transcript(other, theirs),
    )

    dry = await rerank(stack, tenants=[mine], ranker_version="test-r2", dry_run=True)
    assert sorted(t.video_id for t in dry.requested) == sorted([a, b])
    assert dry.event_ids == []
    assert await rank_requests_of(stack, dry.correlation_id) == []

    report = await rerank(stack, tenants=[mine], ranker_version="test-r2", producer="replay:tests@0")
    assert sorted(t.video_id for t in report.requested) == sorted([a, b])
    published = await rank_requests_of(stack, report.correlation_id)
    assert sorted(e.video_id for e in published) == sorted([a, b])  # exactly one each, none for `theirs`
    assert {e.tenant_id for e in published} == {mine}
    assert {e.producer for e in published} == {"replay:tests@0"}
    assert {e.data["ranker_version"] for e in published} == {"test-r2"}
    by_video = {e.video_id: e for e in published}
    assert by_video[a].causation_id == retranscribed.event_id


def test_rerank_command_by_video(stack: Settings) -> None:
    tenant = f"tenant-{uuid.uuid4().hex[:8]}"
    live, deleted = f"vid-{uuid.uuid4().hex[:12]}", f"vid-{uuid.uuid4().hex[:12]}"
    gone = event("video.deleted", {"reason": "gone"}, video_id=deleted, tenant_id=tenant)
    asyncio.run(publish(stack, transcript(live, tenant), transcript(deleted, tenant), gone))
    runner = CliRunner()

    result = runner.invoke(app, ["replay", "rerank", "--video", live, "--video", deleted, "--dry-run", "--json"])
    assert result.exit_code == 0, result.output
    doc = json.loads(result.stdout)
    assert [t["video_id"] for t in doc["requested"]] == [live]
    assert doc["not_found"] == [deleted]

    result = runner.invoke(app, ["replay", "rerank", "--video", live, "--operator", "ops", "--setting", "top_k=3"])
    assert result.exit_code == 0, result.output
    assert "requested re-ranking of 1 videos" in result.stdout
    correlation = result.stdout.split("correlation id ")[1].split(",")[0]
    [published] = asyncio.run(rank_requests_of(stack, correlation))
    assert (published.video_id, published.producer) == (live, f"replay:ops@{__version__}")
    assert published.data["settings"] == {"top_k": 3}

    nothing = runner.invoke(app, ["replay", "rerank", "--video", deleted, "--dry-run"])
    assert nothing.exit_code == 1
