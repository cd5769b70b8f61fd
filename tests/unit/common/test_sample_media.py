"""Offline talk synthesis: exact sentence timing, video/audio outputs, the media cache."""

from __future__ import annotations

import wave
from pathlib import Path

import cv2
import numpy as np
import pytest
from clipforge_common import sample_media
from clipforge_common.ffmpeg import ffprobe, run_ffmpeg
from clipforge_common.sample_media import (
    DEFAULT_TALK,
    EXTRA_TOPICS,
    SpeechScript,
    cached,
    cached_talk,
    make_sample,
    make_talk_video,
    synthesize_speech,
    talk_for_seconds,
)

SHORT = ["Why is the sky blue?", "Sunlight scatters off tiny molecules in the air."]


def _read_wav(path: Path) -> tuple[np.ndarray, int]:
    with wave.open(str(path)) as w:
        assert w.getnchannels() == 1 and w.getsampwidth() == 2
        return np.frombuffer(w.readframes(w.getnframes()), "<i2").astype(np.float32) / 32768, w.getframerate()


def test_default_talk_has_three_topics_with_hooks() -> None:
    assert len(DEFAULT_TALK) == 3
    for topic in DEFAULT_TALK:
        assert 6 <= len(topic.sentences) <= 8
        assert topic.sentences[0].endswith("?")  # every topic opens with a question hook
    everything = [s for t in DEFAULT_TALK + EXTRA_TOPICS for s in t.sentences]
    assert len(set(everything)) == len(everything)
    assert not any(ch.isdigit() for s in everything for ch in s)  # numbers are spelled out for ASR


@pytest.mark.parametrize("seconds", [30, 60, 180])
def test_talk_for_seconds_covers_all_default_topics(seconds: int) -> None:
    plan = talk_for_seconds(seconds)
    assert plan.estimated_seconds() >= seconds
    assert plan.estimated_seconds() < seconds * 1.3
    assert plan.topics[:3] == tuple(t.title for t in DEFAULT_TALK)
    assert len(plan.paragraph_breaks) == len(plan.topics) - 1
    # A break sits exactly where the next topic's first sentence starts.
    for brk, topic in zip(plan.paragraph_breaks, DEFAULT_TALK[1:] + EXTRA_TOPICS, strict=False):
        assert plan.sentences[brk] == topic.sentences[0]


def test_talk_for_seconds_never_repeats_material() -> None:
    plan = talk_for_seconds(3600)
    assert len(plan.sentences) == sum(len(t.sentences) for t in DEFAULT_TALK + EXTRA_TOPICS)
    assert len(set(plan.sentences)) == len(plan.sentences)


def test_synthesize_speech_timing_is_exact(tmp_path: Path) -> None:
    sentences = [*SHORT, "Now let us talk about sunsets."]
    script = synthesize_speech(sentences, tmp_path / "s.wav", pause=0.7, paragraph_breaks={2}, paragraph_pause=1.5)
    audio, sr = _read_wav(tmp_path / "s.wav")
    assert sr == 24000
    assert script.duration == pytest.approx(len(audio) / sr)
    assert [s.text for s in script.sentences] == sentences
    assert [s.paragraph for s in script.sentences] == [0, 0, 1]
    gaps = [b - a for a, b in script.pauses()]
    assert gaps[0] == pytest.approx(0.7, abs=0.002)
    assert gaps[1] == pytest.approx(1.5, abs=0.002)
    for s in script.sentences:
        speech = audio[int(s.start * sr) : int(s.end * sr)]
        assert np.sqrt(np.mean(speech**2)) > 0.02
    for end, start in script.pauses():
        silence = audio[int(end * sr) + 1 : int(start * sr) - 1]
        assert np.abs(silence).max() <= 0.011  # only sub-threshold tails, no speech


def test_synthesize_speech_is_deterministic(tmp_path: Path) -> None:
    a = synthesize_speech(SHORT[:1], tmp_path / "a.wav")
    b = synthesize_speech(SHORT[:1], tmp_path / "b.wav")
    assert a == b
    assert (tmp_path / "a.wav").read_bytes() == (tmp_path / "b.wav").read_bytes()


def test_synthesize_speech_needs_text(tmp_path: Path) -> None:
    with pytest.raises(ValueError):
        synthesize_speech([], tmp_path / "x.wav")


def _face_x(video: Path, at: float, tmp: Path) -> float:
    frame = tmp / f"f{at}.png"
    run_ffmpeg(["-ss", f"{at}", "-i", str(video), "-frames:v", "1", str(frame)])
    gray = cv2.imread(str(frame), cv2.IMREAD_GRAYSCALE)
    cascade = cv2.CascadeClassifier(cv2.data.haarcascades + "haarcascade_frontalface_default.xml")
    faces = cascade.detectMultiScale(gray, 1.1, 5, minSize=(40, 40))
    assert len(faces) >= 1
    x, _y, w, _h = max(faces, key=lambda f: f[2] * f[3])
    return (x + w / 2) / gray.shape[1]


@pytest.mark.parametrize("face", ["left", "right"])
def test_talk_video_is_h264_aac_with_off_centre_face(face: str, tmp_path: Path) -> None:
    out = tmp_path / f"{face}.mp4"
    script = make_talk_video(out, SHORT, face=face)  # type: ignore[arg-type]
    info = ffprobe(out)
    video = next(s for s in info["streams"] if s["codec_type"] == "video")
    audio = next(s for s in info["streams"] if s["codec_type"] == "audio")
    assert (video["codec_name"], video["width"], video["height"], video["pix_fmt"]) == ("h264", 640, 360, "yuv420p")
    assert audio["codec_name"] == "aac"
    assert float(info["format"]["duration"]) == pytest.approx(script.duration, abs=0.15)
    x = _face_x(out, 1.0, tmp_path)
    assert (x < 0.45) if face == "left" else (x > 0.55)


def test_moving_face_travels_left_to_right(tmp_path: Path) -> None:
    out = tmp_path / "moving.mp4"
    script = make_talk_video(out, SHORT, face="moving", width=480, height=270)
    early = _face_x(out, 0.2, tmp_path)
    late = _face_x(out, script.duration - 0.3, tmp_path)
    assert late - early > 0.2


@pytest.mark.parametrize(("suffix", "codec"), [(".mp3", "mp3"), (".m4a", "aac")])
def test_audio_only_outputs(suffix: str, codec: str, tmp_path: Path) -> None:
    out = tmp_path / f"talk{suffix}"
    script = make_talk_video(out, SHORT[:1], audio_only=True)
    streams = ffprobe(out)["streams"]
    assert [s["codec_type"] for s in streams] == ["audio"]
    assert streams[0]["codec_name"] == codec
    assert script.sentences[0].end <= script.duration


def test_unsupported_audio_suffix_is_refused(tmp_path: Path) -> None:
    with pytest.raises(ValueError):
        make_talk_video(tmp_path / "x.flac", SHORT[:1], audio_only=True)


def test_cache_builds_once_per_key(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("CLIPFORGE_MEDIA_CACHE", str(tmp_path / "cache"))
    calls: list[Path] = []

    def build(path: Path) -> None:
        calls.append(path)
        path.write_bytes(b"media")

    first = cached({"k": 1}, build, suffix=".bin")
    again = cached({"k": 1}, build, suffix=".bin")
    other = cached({"k": 2}, build, suffix=".bin")
    assert first == again != other
    assert len(calls) == 2
    assert first.parent == tmp_path / "cache"
    assert calls[0].suffix == ".bin" and calls[0] != first  # built under a temporary name
    assert sorted(p.name for p in first.parent.iterdir()) == sorted([first.name, other.name])


def test_cache_leaves_nothing_when_builder_fails(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("CLIPFORGE_MEDIA_CACHE", str(tmp_path))

    def broken(path: Path) -> None:
        path.write_bytes(b"half")
        raise RuntimeError("boom")

    with pytest.raises(RuntimeError):
        cached("k", broken, suffix=".mp4")
    assert list(tmp_path.iterdir()) == []


def test_cached_talk_returns_script_on_hit(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("CLIPFORGE_MEDIA_CACHE", str(tmp_path))
    path, script = cached_talk(SHORT[:1], suffix=".m4a")
    calls: list[object] = []
    monkeypatch.setattr(sample_media, "make_talk_video", lambda *a, **k: calls.append(a))
    path2, script2 = cached_talk(SHORT[:1], suffix=".m4a")
    assert (path2, script2) == (path, script)
    assert calls == []
    assert isinstance(script, SpeechScript) and script.sentences[0].text == SHORT[0]


def test_default_cache_dir_is_git_ignored_repo_folder(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delenv("CLIPFORGE_MEDIA_CACHE", raising=False)
    directory = sample_media.cache_dir()
    repo = Path(__file__).resolve().parents[3]
    assert directory == repo / ".cache" / "media"
    assert ".cache/" in (repo / ".gitignore").read_text()


def test_make_sample_audio_by_suffix(tmp_path: Path) -> None:
    script = make_sample(tmp_path / "sample.mp3", seconds=8)
    assert [s["codec_type"] for s in ffprobe(tmp_path / "sample.mp3")["streams"]] == ["audio"]
    assert script.duration >= 6
    assert script.sentences[0].text == DEFAULT_TALK[0].sentences[0]
