"""The rank service as a process on the real stack: a synthesized ~3 minute talk (five topics, hibari
speech, real pocketsphinx transcript) goes in through Kafka and S3, ranked clips come out."""

from __future__ import annotations

import asyncio
import uuid
from collections.abc import AsyncIterator
from pathlib import Path

import pytest
from clipforge_common.envelope import Envelope
from clipforge_common.events import ClipsRanked, RankRequested
from clipforge_common.sample_media import SpeechScript, talk_for_seconds
from clipforge_common.settings import Settings
from clipforge_common.storage import ObjectStore
from clipforge_common.transcript import Transcript
from clipforge_rank.domain import FEATURE_NAMES, RankerConfig

from tests.integration.common.clip_services import (
    EventLog,
    ServiceProcess,
    StoredVideo,
    asr_transcript,
    event,
    publish,
    remove_video,
    start_service,
    store_video,
    talk,
    wav16,
)

pytestmark = pytest.mark.slow

CONSUMES = ("video.ingested", "transcript.completed", "rank.requested", "video.deleted")
ANSWERS = ("clips.ranked", "rank.failed", "pipeline.progress")


class Talk:
    def __init__(self, media: Path, script: SpeechScript, wav: Path, transcript: Transcript) -> None:
        self.media, self.script, self.wav, self.transcript = media, script, wav, transcript

    def topic_changes(self) -> list[float]:
        """Times of the script's topic breaks: the middle of the silence between two topics."""
        pairs = zip(self.script.sentences, self.script.sentences[1:], strict=False)
        return [(a.end + b.start) / 2 for a, b in pairs if a.paragraph != b.paragraph]

    def topic_at(self, t: float) -> int:
        return sum(t > change for change in self.topic_changes())


@pytest.fixture(scope="module")
def talk_180() -> Talk:
    plan = talk_for_seconds(180)
    media, script = talk(plan.sentences, breaks=plan.paragraph_breaks)
    wav = wav16(media)
    return Talk(media, script, wav, asr_transcript(wav))


@pytest.fixture(scope="module")
async def rank_service(stack: Settings, tmp_path_factory: pytest.TempPathFactory) -> AsyncIterator[ServiceProcess]:
    service = await start_service("rank", stack, tmp_path_factory.mktemp("rank"), CONSUMES)
    try:
        yield service
    finally:
        code = service.stop()
        log = service.log_tail(20000)
        await service.drop_database()
        assert code == 0 and "Traceback" not in log, log


@pytest.fixture
async def answers(stack: Settings) -> AsyncIterator[EventLog]:
    log = await EventLog(stack, ANSWERS).start()
    yield log
    await log.stop()


@pytest.fixture
async def video(stack: Settings, talk_180: Talk, rank_service: ServiceProcess) -> AsyncIterator[StoredVideo]:
    stored = await store_video(
        stack, talk_180.media, talk_180.transcript, wav=talk_180.wav, tenant_id=rank_service.tenant_id
    )
    yield stored
    await publish(stack, stored.deleted())
    await remove_video(stack, stored)


async def own(
    answers: EventLog, service: ServiceProcess, event_type: str, video_id: str, count: int = 1
) -> list[Envelope]:
    """At least ``count`` of ``service``'s own ``event_type`` answers for a video (waits for them)."""

    def of(events: list[Envelope]) -> list[Envelope]:
        return [e for e in events if e.event_type == event_type and e.video_id == video_id]

    return of(await answers.wait_own(service, lambda evs: len(of(evs)) >= count, describe=f"{count} {event_type}"))


def _assert_sentence_bounded(clips: ClipsRanked, talk: Talk, low: float, high: float) -> None:
    words = talk.transcript.words
    starts = [s.start for s in talk.transcript.sentences]
    ends = [s.end for s in talk.transcript.sentences]
    changes = talk.topic_changes()
    for c in clips.clips:
        assert any(abs(c.start - s) < 1e-3 for s in starts), f"{c.start} is not a sentence start"
        assert any(abs(c.end - e) < 1e-3 for e in ends), f"{c.end} is not a sentence end"
        assert not any(w.start < c.start < w.end or w.start < c.end < w.end for w in words), "cuts a word"
        assert low <= c.end - c.start <= high, (c.start, c.end)
        straddled = [t for t in changes if c.start < t < c.end]
        assert not straddled, f"clip {c.start:.1f}-{c.end:.1f} straddles the topic change at {straddled}"


async def test_candidates_follow_sentences_and_stay_inside_topics(
    stack: Settings, rank_service: ServiceProcess, answers: EventLog, talk_180: Talk, video: StoredVideo
) -> None:
    assert len(talk_180.topic_changes()) >= 2 and 150 <= talk_180.script.duration <= 210
    completed = video.transcript_completed()
    await publish(stack, video.ingested(talk_180.media), completed)
    (ranked_env,) = await own(answers, rank_service, "clips.ranked", video.video_id)
    ranked = ClipsRanked.model_validate(ranked_env.data)

    assert ranked.ranker_version == RankerConfig().version
    assert ranked.transcript_key == video.transcript_key
    assert len(ranked.clips) >= 3
    _assert_sentence_bounded(ranked, talk_180, 15.0, 90.0)
    assert [c.score for c in ranked.clips] == sorted((c.score for c in ranked.clips), reverse=True)
    for c in ranked.clips:
        assert 0 <= c.score <= 100 and set(c.features) == set(FEATURE_NAMES)
        assert c.reasons and c.title and c.hook
    # Clips come from at least three distinct topics of the talk.
    assert len({talk_180.topic_at((c.start + c.end) / 2) for c in ranked.clips}) >= 3

    # Stored: the ranking (with the audio features) and its candidates, best first.
    rankings = await rank_service.fetch("SELECT * FROM rankings WHERE video_id = $1", video.video_id)
    assert len(rankings) == 1 and rankings[0]["audio_used"] and rankings[0]["clip_count"] == len(ranked.clips)
    rows = await rank_service.fetch(
        "SELECT clip_id, reasons FROM candidate_clips WHERE video_id = $1 ORDER BY position", video.video_id
    )
    assert [r["clip_id"] for r in rows] == [c.clip_id for c in ranked.clips]
    assert all(r["reasons"] for r in rows)
    # The answer continues the transcript's correlation, and progress was published on the way.
    assert (ranked_env.causation_id, ranked_env.correlation_id) == (completed.event_id, completed.correlation_id)
    progress = [e.data for e in answers.of("pipeline.progress", video.video_id)]
    assert any(p["stage"] == "rank" and p["percent"] == 100.0 for p in progress)


async def test_rank_requested_reranks_the_stored_transcript(
    stack: Settings, rank_service: ServiceProcess, answers: EventLog, talk_180: Talk, video: StoredVideo
) -> None:
    # Only the transcript.completed of an earlier run is known: no new transcription happens.
    await publish(stack, video.ingested(talk_180.media), video.transcript_completed())
    first = ClipsRanked.model_validate((await own(answers, rank_service, "clips.ranked", video.video_id))[0].data)

    short = {"min_seconds": 15, "target_seconds": 20, "max_seconds": 30}
    rerank = event("rank.requested", RankRequested(settings=short), video_id=video.video_id, tenant_id=video.tenant_id)
    await publish(stack, rerank)
    again_env = (await own(answers, rank_service, "clips.ranked", video.video_id, 2))[1]
    again = ClipsRanked.model_validate(again_env.data)
    assert again_env.causation_id == rerank.event_id and again_env.correlation_id == rerank.correlation_id
    assert again.ranker_version.startswith(first.ranker_version + "+") and again.ranker_version != first.ranker_version
    _assert_sentence_bounded(again, talk_180, 15.0, 30.0)
    assert not {c.clip_id for c in again.clips} & {c.clip_id for c in first.clips}

    # A named variant with settings keeps the name; unknown versions and bad settings are answered.
    named = RankRequested(ranker_version="short-v1", settings=short)
    unknown = RankRequested(ranker_version="nope-v9")
    invalid = RankRequested(settings={"min_seconds": 40, "max_seconds": 20})
    for data in (named, unknown, invalid):
        await publish(stack, event("rank.requested", data, video_id=video.video_id, tenant_id=video.tenant_id))
    named_env = (await own(answers, rank_service, "clips.ranked", video.video_id, 3))[2]
    assert ClipsRanked.model_validate(named_env.data).ranker_version == "short-v1"
    failed = await own(answers, rank_service, "rank.failed", video.video_id, 2)
    assert {e.data["reason_code"] for e in failed} == {"unknown_ranker_version", "invalid_ranker_settings"}
    assert all(e.data["message"] for e in failed)

    versions = await rank_service.fetch(
        "SELECT ranker_version FROM rankings WHERE video_id = $1 ORDER BY ranked_at", video.video_id
    )
    assert [r["ranker_version"] for r in versions] == [first.ranker_version, again.ranker_version, "short-v1"]

    # video.deleted: the service forgets the video.
    await publish(stack, video.deleted())
    for _ in range(600):  # only guards against hanging
        rows = await rank_service.fetch("SELECT 1 FROM candidate_clips WHERE video_id = $1", video.video_id)
        if not rows:
            break
        await asyncio.sleep(0.2)
    assert not rows
    assert await rank_service.fetch("SELECT 1 FROM deleted_videos WHERE video_id = $1", video.video_id)


async def test_missing_or_too_short_transcripts_are_answered(
    stack: Settings, rank_service: ServiceProcess, answers: EventLog, talk_180: Talk
) -> None:
    store = ObjectStore(stack)
    tiny = talk_180.transcript.model_copy(
        update={"words": talk_180.transcript.words[:8], "sentences": talk_180.transcript.sentences[:1]}
    )
    short_video = StoredVideo(
        f"vid-{uuid.uuid4().hex[:12]}",
        rank_service.tenant_id,
        "",
        "",
        f"transcripts/test-{uuid.uuid4().hex}.json",
        tiny,
    )
    await store.put_bytes(short_video.transcript_key, tiny.model_dump_json().encode())
    missing = StoredVideo(
        f"vid-{uuid.uuid4().hex[:12]}",
        rank_service.tenant_id,
        "",
        "",
        f"transcripts/none-{uuid.uuid4().hex}.json",
        tiny,
    )
    try:
        await publish(stack, short_video.transcript_completed(), missing.transcript_completed())
        (too_short,) = await own(answers, rank_service, "rank.failed", short_video.video_id)
        (not_found,) = await own(answers, rank_service, "rank.failed", missing.video_id)
        assert too_short.data["reason_code"] == "no_candidates" and "15-90 s" in too_short.data["message"]
        assert not_found.data["reason_code"] == "transcript_not_found"
    finally:
        await store.delete(short_video.transcript_key)
