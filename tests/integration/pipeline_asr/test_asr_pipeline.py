"""A ~60 s hibari-tts talk, uploaded to S3, travels ingest -> transcribe through Kafka as real service
processes; the transcript matches the source text. A second upload of the same bytes is recognised,
and deleting the videos removes their objects."""

from __future__ import annotations

import itertools
import re
from pathlib import Path

import jiwer
import pytest
from clipforge_common.events import TranscriptCompleted, VideoIngested
from clipforge_common.sample_media import SpeechScript, cached_talk
from clipforge_common.storage import transcript_key, video_audio_key
from clipforge_common.transcript import Transcript

from tests.integration.pipeline_asr.harness import AsrStack

pytestmark = pytest.mark.slow


def normalise(text: str) -> str:
    """Lowercase, hyphens as spaces, no punctuation (the script spells numbers as words)."""
    return " ".join(re.sub(r"[^a-z' ]+", " ", text.lower().replace("-", " ")).split())


@pytest.fixture(scope="module")
async def talk_ingested(asr: AsrStack, talk_video: tuple[Path, SpeechScript]) -> dict:
    """The talk uploaded once and followed to its transcript (shared by the tests below)."""
    path, script = talk_video
    video_id = await asr.ingest_upload(path)
    outcome = await asr.events.wait_for(video_id, "transcript.completed", "transcript.failed", "video.ingest_failed")
    assert outcome.event_type == "transcript.completed", outcome.data
    return {"video_id": video_id, "path": path, "script": script}


async def test_talk_travels_ingest_to_transcribe(asr: AsrStack, talk_ingested: dict) -> None:
    video_id, path, script = talk_ingested["video_id"], talk_ingested["path"], talk_ingested["script"]

    ingested_env = (asr.events.of(video_id, "video.ingested"))[0]
    ingested = VideoIngested.model_validate(ingested_env.data)
    assert (ingested.width, ingested.height, ingested.fps) == (640, 360, 25.0)
    assert (ingested.video_codec, ingested.audio_codec) == ("h264", "aac")
    assert ingested.duration == pytest.approx(script.duration, abs=0.2)
    assert ingested.size == path.stat().st_size
    assert ingested.source_key == f"videos/{video_id}/source.mp4"
    assert ingested.audio_key == video_audio_key(video_id)
    assert ingested.reused_from is None
    assert await asr.store.exists(ingested.audio_key)

    completed_env = asr.events.of(video_id, "transcript.completed")[0]
    assert completed_env.causation_id == ingested_env.event_id
    assert completed_env.correlation_id == ingested_env.correlation_id
    completed = TranscriptCompleted.model_validate(completed_env.data)
    assert completed.transcript_key == transcript_key(video_id)
    assert completed.engine == "pocketsphinx"
    transcript = Transcript.model_validate_json(await asr.store.get_bytes(completed.transcript_key))
    assert transcript.video_id == video_id
    assert completed.word_count == len(transcript.words) and completed.sentence_count == len(transcript.sentences)

    # Accuracy against the text that was synthesized.
    wer = jiwer.wer(normalise(script.text), normalise(" ".join(w.word for w in transcript.words)))
    print(f"\nservice path: WER {wer:.3f} over {len(transcript.words)} words, {transcript.duration:.1f} s of audio")
    assert wer <= 0.15

    # Word timings: monotonic, inside the media.
    words = transcript.words
    assert words[0].start >= 0 and words[-1].end <= ingested.duration + 1e-3
    assert all(w.start <= w.end for w in words)
    assert all(a.end <= b.start for a, b in itertools.pairwise(words))

    # Sentence boundaries fall on the pauses between the source's sentences.
    pauses = [(end + start) / 2 for end, start in script.pauses()]
    found = [(a.end + b.start) / 2 for a, b in itertools.pairwise(transcript.sentences)]
    hits = sum(any(abs(p - f) <= 0.5 for f in found) for p in pauses)
    false_breaks = [f for f in found if not any(abs(p - f) <= 0.5 for p in pauses)]
    print(f"sentence boundaries: {hits}/{len(pauses)} source pauses found, {len(false_breaks)} extra")
    assert hits >= 0.9 * len(pauses), (hits, len(pauses))
    assert len(false_breaks) <= 1, false_breaks

    # Both stages published live progress that ends at 100 %.
    for stage in ("ingest", "transcribe"):
        percents = [e.data["percent"] for e in asr.events.of(video_id, "pipeline.progress") if e.data["stage"] == stage]
        assert percents and percents == sorted(percents) and percents[-1] == 100.0, (stage, percents)


async def test_duplicate_upload_reuses_earlier_results(asr: AsrStack, talk_ingested: dict) -> None:
    original, path = talk_ingested["video_id"], talk_ingested["path"]
    video_id = await asr.ingest_upload(path)
    ingested = VideoIngested.model_validate((await asr.events.wait_for(video_id, "video.ingested")).data)
    first = VideoIngested.model_validate(asr.events.of(original, "video.ingested")[0].data)
    assert ingested.reused_from == original
    assert ingested.sha256 == first.sha256
    assert ingested.duration == first.duration and ingested.width == first.width
    # Own keys (a server-side copy), so deleting the original never breaks this video.
    assert ingested.source_key == f"videos/{video_id}/source.mp4"
    assert ingested.audio_key == video_audio_key(video_id)
    assert await asr.store.exists(ingested.audio_key)

    # Transcribe copies the earlier transcript instead of running ASR again.
    completed = TranscriptCompleted.model_validate((await asr.events.wait_for(video_id, "transcript.completed")).data)
    copy = Transcript.model_validate_json(await asr.store.get_bytes(completed.transcript_key))
    earlier = Transcript.model_validate_json(await asr.store.get_bytes(transcript_key(original)))
    assert copy.video_id == video_id
    assert copy.words == earlier.words and copy.sentences == earlier.sentences
    assert asr.transcribe is not None
    row = (await asr.transcribe.fetch("SELECT status, copied_from FROM transcripts WHERE video_id = $1", video_id))[0]
    assert (row["status"], row["copied_from"]) == ("done", original), "no second ASR run"

    # The same bytes in another project of the tenant are processed on their own.
    other = await asr.ingest_upload(path, project="project-2")
    other_ingested = VideoIngested.model_validate((await asr.events.wait_for(other, "video.ingested")).data)
    assert other_ingested.reused_from is None


async def test_deleted_video_objects_are_removed(asr: AsrStack, short_talk_sentences: tuple[str, ...]) -> None:
    path, _ = cached_talk(short_talk_sentences, suffix=".m4a")
    video_id = await asr.ingest_upload(path)
    await asr.events.wait_for(video_id, "transcript.completed")
    assert await asr.keys_of(video_id) == sorted(
        [f"videos/{video_id}/source.m4a", video_audio_key(video_id), transcript_key(video_id)]
    )

    await asr.publish("video.deleted", video_id, {"reason": "test"})
    await asr.eventually(lambda: asr.keys_of(video_id), [])

    # Both services forgot the video (and keep only its tombstone).
    for service, table in ((asr.ingest, "media"), (asr.transcribe, "transcripts")):
        assert service is not None
        assert (await service.fetch(f"SELECT count(*) FROM {table} WHERE video_id = $1", video_id))[0][0] == 0
        assert (await service.fetch("SELECT count(*) FROM deleted_videos WHERE video_id = $1", video_id))[0][0] == 1
