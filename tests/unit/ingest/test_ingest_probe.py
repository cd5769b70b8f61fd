"""probe_media: accepts playable talks (video or audio-only) and rejects bad input with a reason code."""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path

import pytest
from clipforge_common.sample_media import SpeechScript
from clipforge_ingest.domain import REASON_CODES, IngestLimits, IngestRejected, probe_media

MakeMedia = Callable[..., Path]
TONE = ("-f", "lavfi", "-i", "sine=frequency=440:duration=4")
PICTURE = ("-f", "lavfi", "-i", "testsrc=size=320x240:rate=25:duration=4")
X264 = ("-c:v", "libx264", "-preset", "veryfast", "-pix_fmt", "yuv420p")


def rejected(path: Path, limits: IngestLimits | None = None) -> IngestRejected:
    with pytest.raises(IngestRejected) as info:
        probe_media(path, limits)
    err = info.value
    assert err.reason_code in REASON_CODES
    assert len(err.message) > 20  # a sentence a user can act on
    return err


def test_valid_talk_video_is_described(talk_mp4: tuple[Path, SpeechScript]) -> None:
    path, script = talk_mp4
    info = probe_media(path)
    assert (info.has_video, info.has_audio) == (True, True)
    assert (info.width, info.height, info.fps) == (640, 360, 25.0)
    assert (info.video_codec, info.audio_codec) == ("h264", "aac")
    assert info.duration == pytest.approx(script.duration, abs=0.15)
    assert info.size == path.stat().st_size
    assert "mp4" in info.container
    assert not info.audio_only


@pytest.mark.parametrize(("name", "codec"), [("talk.mp3", "mp3"), ("talk.m4a", "aac"), ("talk.wav", "pcm_s16le")])
def test_audio_only_podcast_is_accepted(make_media: MakeMedia, name: str, codec: str) -> None:
    info = probe_media(make_media(name, *TONE))
    assert info.audio_only
    assert info.audio_codec == codec
    assert info.width is None and info.video_codec is None
    assert info.duration == pytest.approx(4.0, abs=0.1)


def test_mp3_with_cover_art_is_audio_only(make_media: MakeMedia, tmp_path: Path) -> None:
    cover = make_media("cover.png", *PICTURE, "-frames:v", "1")
    out = make_media(
        "cover.mp3",
        *TONE,
        "-i",
        str(cover),
        "-map",
        "0:a",
        "-map",
        "1:v",
        "-c:v",
        "png",
        "-disposition:v",
        "attached_pic",
    )
    info = probe_media(out)
    assert info.audio_only


def test_empty_file(tmp_path: Path) -> None:
    path = tmp_path / "empty.mp4"
    path.write_bytes(b"")
    assert rejected(path).reason_code == "empty_file"


def test_missing_file(tmp_path: Path) -> None:
    assert rejected(tmp_path / "nope.mp4").reason_code == "missing_file"


@pytest.mark.parametrize("faststart", [False, True])
def test_truncated_mp4(make_media: MakeMedia, tmp_path: Path, faststart: bool) -> None:
    flags = ("-movflags", "+faststart") if faststart else ()
    full = make_media("full.mp4", *PICTURE, *TONE, *X264, "-c:a", "aac", *flags)
    cut = tmp_path / "cut.mp4"
    data = full.read_bytes()
    cut.write_bytes(data[: len(data) * 2 // 3])
    probe_media(full)  # the complete file is fine
    assert rejected(cut).reason_code == "truncated"


def test_truncated_mp3_caught_by_tail_decode(make_media: MakeMedia, tmp_path: Path) -> None:
    # A VBR header announces the full duration, but the data stops halfway.
    full = make_media("full.mp3", "-f", "lavfi", "-i", "sine=duration=12", "-c:a", "libmp3lame", "-q:a", "4")
    cut = tmp_path / "cut.mp3"
    data = full.read_bytes()
    cut.write_bytes(data[: len(data) // 2])
    assert rejected(cut).reason_code == "truncated"
    assert probe_media(cut, IngestLimits(check_tail=False)).duration > 10  # the header alone lies


def test_text_renamed_mp4(tmp_path: Path) -> None:
    path = tmp_path / "notes.mp4"
    path.write_text("Meeting notes\nThis is definitely not a video.\n" * 20)
    err = rejected(path)
    assert err.reason_code == "not_media"
    assert "text" in err.message


def test_random_bytes(tmp_path: Path) -> None:
    path = tmp_path / "blob.mov"
    path.write_bytes(bytes(range(256)) * 40)
    assert rejected(path).reason_code == "not_media"


@pytest.mark.parametrize("name", ["still.png", "still.jpg"])
def test_image_is_not_a_video(make_media: MakeMedia, name: str) -> None:
    path = make_media(name, *PICTURE, "-frames:v", "1")
    assert rejected(path).reason_code == "image_not_video"


def test_png_renamed_mp4(make_media: MakeMedia, tmp_path: Path) -> None:
    png = make_media("still.png", *PICTURE, "-frames:v", "1")
    renamed = tmp_path / "holiday.mp4"
    png.rename(renamed)
    assert rejected(renamed).reason_code == "image_not_video"


def test_video_without_audio(make_media: MakeMedia) -> None:
    path = make_media("silent.mp4", *PICTURE, *X264)
    err = rejected(path)
    assert err.reason_code == "no_audio_track"
    assert "sound" in err.message


def test_no_streams(make_media: MakeMedia, tmp_path: Path) -> None:
    srt = tmp_path / "subs.srt"
    srt.write_text("1\n00:00:00,000 --> 00:00:01,000\nhello\n")
    path = make_media("subs_only.mkv", "-i", str(srt), "-c:s", "srt")
    assert rejected(path).reason_code == "no_streams"


def test_limits(make_media: MakeMedia) -> None:
    path = make_media("tone.m4a", *TONE)
    assert rejected(path, IngestLimits(max_duration_s=2)).reason_code == "too_long"
    assert rejected(path, IngestLimits(min_duration_s=10)).reason_code == "too_short"
    assert rejected(path, IngestLimits(max_size_bytes=100)).reason_code == "too_large"
    err = rejected(path, IngestLimits(allowed_audio_codecs=frozenset({"opus"})))
    assert err.reason_code == "unsupported_codec"
    assert "aac" in err.message
    assert probe_media(path, IngestLimits(allowed_audio_codecs=frozenset({"aac"}))).audio_codec == "aac"
