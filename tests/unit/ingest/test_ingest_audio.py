"""extract_audio, sha256_file and the ffmpeg/ffprobe helpers they stand on."""

from __future__ import annotations

import hashlib
import wave
from collections.abc import Callable
from pathlib import Path

import pytest
from clipforge_common.ffmpeg import MediaToolError, ffprobe, run_ffmpeg
from clipforge_common.sample_media import SpeechScript
from clipforge_ingest.domain import extract_audio, sha256_file

MakeMedia = Callable[..., Path]


def test_extract_audio_is_16k_mono_s16(talk_mp4: tuple[Path, SpeechScript], tmp_path: Path) -> None:
    src, script = talk_mp4
    progress: list[float] = []
    out = extract_audio(src, tmp_path / "a" / "audio.wav", on_progress=progress.append)
    with wave.open(str(out)) as w:
        assert (w.getframerate(), w.getnchannels(), w.getsampwidth()) == (16000, 1, 2)
        assert w.getnframes() / 16000 == pytest.approx(script.duration, abs=0.1)
    assert progress and progress[-1] == 1.0
    assert progress == sorted(progress)
    assert all(0.0 <= p <= 1.0 for p in progress)
    assert [p.name for p in out.parent.iterdir()] == ["audio.wav"]  # no temp file left


def test_extract_audio_from_silent_video_fails_cleanly(make_media: MakeMedia, tmp_path: Path) -> None:
    video = make_media(
        "silent.mp4", "-f", "lavfi", "-i", "testsrc=duration=1", "-c:v", "libx264", "-preset", "veryfast"
    )
    out = tmp_path / "out" / "audio.wav"
    with pytest.raises(MediaToolError) as info:
        extract_audio(video, out)
    assert info.value.returncode not in (0, None)
    assert "0:a:0" in info.value.stderr_tail or "matches no streams" in info.value.stderr_tail
    assert not out.exists()
    assert list(out.parent.iterdir()) == []


@pytest.mark.parametrize("size", [0, 1, 6, 7, 8, 100, 1000])
def test_sha256_file_matches_hashlib_across_chunk_boundaries(tmp_path: Path, size: int) -> None:
    data = bytes((i * 31) % 251 for i in range(size))
    path = tmp_path / "blob"
    path.write_bytes(data)
    assert sha256_file(path, chunk=7) == hashlib.sha256(data).hexdigest()


def test_sha256_file_reports_progress(tmp_path: Path) -> None:
    path = tmp_path / "blob"
    path.write_bytes(b"x" * 1000)
    seen: list[float] = []
    digest = sha256_file(path, chunk=256, on_progress=seen.append)
    assert digest == hashlib.sha256(b"x" * 1000).hexdigest()
    assert seen == [0.256, 0.512, 0.768, 1.0]


def test_sha256_file_rejects_bad_chunk(tmp_path: Path) -> None:
    (tmp_path / "f").write_bytes(b"1")
    with pytest.raises(ValueError):
        sha256_file(tmp_path / "f", chunk=0)


def test_ffprobe_reports_streams(make_media: MakeMedia) -> None:
    path = make_media("tone.wav", "-f", "lavfi", "-i", "sine=duration=2")
    data = ffprobe(path)
    assert data["streams"][0]["codec_type"] == "audio"
    assert float(data["format"]["duration"]) == pytest.approx(2.0)


def test_ffprobe_failure_carries_stderr(tmp_path: Path) -> None:
    junk = tmp_path / "junk.bin"
    junk.write_bytes(b"\x00\x01garbage" * 10)
    with pytest.raises(MediaToolError) as info:
        ffprobe(junk)
    assert "Invalid data" in info.value.stderr_tail


def test_run_ffmpeg_progress_is_monotonic_fraction(tmp_path: Path) -> None:
    seen: list[float] = []
    run_ffmpeg(["-f", "lavfi", "-i", "sine=duration=5", str(tmp_path / "o.wav")], duration=5.0, on_progress=seen.append)
    assert seen[-1] == 1.0
    assert seen == sorted(seen) and len(set(seen)) == len(seen)
    assert (tmp_path / "o.wav").stat().st_size > 5 * 44100


def test_run_ffmpeg_keeps_only_a_bounded_stderr_tail(tmp_path: Path) -> None:
    # Debug logging prints thousands of lines before the bad output option fails the run.
    args = [
        "-loglevel",
        "debug",
        "-f",
        "lavfi",
        "-i",
        "sine=duration=3",
        "-c:a",
        "no_such_codec",
        str(tmp_path / "x.wav"),
    ]
    with pytest.raises(MediaToolError) as info:
        run_ffmpeg(args)
    tail = info.value.stderr_tail.splitlines()
    assert 0 < len(tail) <= 40
    assert any("no_such_codec" in line for line in tail)


def test_run_ffmpeg_timeout_kills_the_process(tmp_path: Path) -> None:
    # -re reads the source in real time, so 60 s of input cannot finish within the 0.5 s allowed.
    args = ["-re", "-f", "lavfi", "-i", "sine=duration=60", str(tmp_path / "slow.wav")]
    with pytest.raises(MediaToolError) as info:
        run_ffmpeg(args, timeout=0.5)
    assert "timed out" in str(info.value)
