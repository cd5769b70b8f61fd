"""Bad uploads are answered with ``video.ingest_failed`` and a specific reason code, and leave nothing in
S3 but the upload itself; audio-only podcasts are accepted."""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path

import pytest
from clipforge_common.events import VideoIngested, VideoIngestFailed
from clipforge_common.ffmpeg import run_ffmpeg
from clipforge_common.sample_media import cached_talk
from clipforge_common.storage import transcript_key, video_audio_key

from tests.integration.pipeline_asr.harness import AsrStack

PICTURE = ("-f", "lavfi", "-i", "testsrc=size=320x240:rate=25:duration=3")
X264 = ("-c:v", "libx264", "-preset", "veryfast", "-pix_fmt", "yuv420p")


def _empty(tmp: Path, _talk: Path) -> Path:
    path = tmp / "empty.mp4"
    path.write_bytes(b"")
    return path


def _truncated(tmp: Path, talk: Path) -> Path:
    path = tmp / "cut.mp4"
    data = talk.read_bytes()
    path.write_bytes(data[: len(data) * 2 // 3])
    return path


def _png(tmp: Path, _talk: Path) -> Path:
    path = tmp / "holiday.png"
    run_ffmpeg([*PICTURE, "-frames:v", "1", str(path)])
    return path


def _text_as_mp4(tmp: Path, _talk: Path) -> Path:
    path = tmp / "notes.mp4"
    path.write_text("Meeting notes\nThis is definitely not a video.\n" * 20)
    return path


def _silent_video(tmp: Path, _talk: Path) -> Path:
    path = tmp / "silent.mp4"
    run_ffmpeg([*PICTURE, *X264, str(path)])
    return path


BAD_INPUTS: dict[str, tuple[Callable[[Path, Path], Path], str]] = {
    "zero bytes": (_empty, "empty_file"),
    "truncated mp4": (_truncated, "truncated"),
    "png image": (_png, "image_not_video"),
    "text renamed .mp4": (_text_as_mp4, "not_media"),
    "video without audio": (_silent_video, "no_audio_track"),
}


@pytest.mark.parametrize("case", list(BAD_INPUTS))
async def test_bad_upload_fails_with_reason_and_leaves_only_the_source(
    asr: AsrStack, short_talk_sentences: tuple[str, ...], tmp_path: Path, case: str
) -> None:
    make, reason = BAD_INPUTS[case]
    talk, _ = cached_talk(short_talk_sentences, suffix=".mp4")
    path = make(tmp_path, talk)
    video_id = await asr.ingest_upload(path)

    answer = await asr.events.wait_for(video_id, "video.ingested", "video.ingest_failed")
    assert answer.event_type == "video.ingest_failed", answer.data
    failed = VideoIngestFailed.model_validate(answer.data)
    assert failed.reason_code == reason
    assert len(failed.message) > 20, "a sentence the user can act on"
    assert await asr.keys_of(video_id) == [f"videos/{video_id}/source{path.suffix}"]
    assert not asr.events.of(video_id, "transcript.completed", "transcript.failed")


@pytest.mark.parametrize(("suffix", "codec"), [(".mp3", "mp3"), (".m4a", "aac")])
async def test_audio_only_podcast_is_accepted(
    asr: AsrStack, short_talk_sentences: tuple[str, ...], suffix: str, codec: str
) -> None:
    path, script = cached_talk(short_talk_sentences, suffix=suffix)
    video_id = await asr.ingest_upload(path)

    answer = await asr.events.wait_for(video_id, "video.ingested", "video.ingest_failed")
    assert answer.event_type == "video.ingested", answer.data
    ingested = VideoIngested.model_validate(answer.data)
    assert ingested.audio_codec == codec
    assert ingested.width is None and ingested.height is None and ingested.video_codec is None
    assert ingested.duration == pytest.approx(script.duration, abs=0.2)

    completed = await asr.events.wait_for(video_id, "transcript.completed", "transcript.failed")
    assert completed.event_type == "transcript.completed", completed.data
    assert completed.data["word_count"] > 10
    assert await asr.keys_of(video_id) == sorted(
        [f"videos/{video_id}/source{suffix}", video_audio_key(video_id), transcript_key(video_id)]
    )
