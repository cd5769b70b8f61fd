"""Real (small) renders through ffmpeg: codecs, size, duration, captions on screen, audio-only."""

from __future__ import annotations

import subprocess
from dataclasses import dataclass
from pathlib import Path

import cv2
import numpy as np
import pytest
from clipforge_common.captions import parse_srt, parse_vtt
from clipforge_common.ffmpeg import ffprobe, run_ffmpeg
from clipforge_render.domain import CaptionStyle, ClipLike, get_preset, render_clip
from clipforge_render.domain.captions_ass import write_ass
from clipforge_render.domain.plan import plan_render
from clipforge_render.domain.reframe import CropPath

from tests.unit.render.render_media import timed_words, tone_audio

TEXT = "Have you ever wondered why your morning coffee tastes so bitter? The answer is hiding in the water."
SMALL_VERTICAL = get_preset("vertical").scaled(0.4)  # 432x768: fast, still legible


@dataclass
class Clip:
    clip_id: str
    start: float
    end: float
    title: str = ""


def _frame(video: Path, at: float) -> np.ndarray:
    """One RGB frame decoded with ffmpeg."""
    info = ffprobe(video)
    v = next(s for s in info["streams"] if s["codec_type"] == "video")
    w, h = int(v["width"]), int(v["height"])
    raw = subprocess.run(
        ["ffmpeg", "-v", "error", "-ss", f"{at}", "-i", str(video), "-frames:v", "1", "-f", "rawvideo",
         "-pix_fmt", "rgb24", "-"],
        check=True, capture_output=True,
    ).stdout  # fmt: skip
    return np.frombuffer(raw, dtype=np.uint8).reshape(h, w, 3).astype(np.int16)


def _streams(video: Path) -> tuple[dict, dict, dict]:
    info = ffprobe(video)
    v = next(s for s in info["streams"] if s["codec_type"] == "video")
    a = next(s for s in info["streams"] if s["codec_type"] == "audio")
    return info["format"], v, a


def test_render_clip_end_to_end(moving_face: Path, tmp_path: Path) -> None:
    clip = Clip("c-1", 1.0, 4.0, "Why your coffee tastes bitter")
    assert isinstance(clip, ClipLike)
    progress: list[float] = []
    out = render_clip(
        moving_face, clip, timed_words(TEXT, start=0.5), SMALL_VERTICAL, CaptionStyle(), tmp_path / "c-1",
        on_progress=progress.append,
    )  # fmt: skip
    fmt, v, a = _streams(out.video_path)
    assert (v["codec_name"], v["pix_fmt"], a["codec_name"]) == ("h264", "yuv420p", "aac")
    assert (int(v["width"]), int(v["height"])) == (432, 768) == (out.width, out.height)
    assert float(fmt["duration"]) == pytest.approx(3.0, abs=0.1)
    assert out.duration == pytest.approx(3.0, abs=0.1)
    assert out.size == out.video_path.stat().st_size > 0
    assert out.video_path.name == "vertical.mp4" and out.crop_filter and out.crop_filter.startswith("crop=202:360:")
    thumb = cv2.imread(str(out.thumbnail_path))
    assert thumb is not None and thumb.shape[:2] == (768, 432)
    assert out.srt_path and out.vtt_path
    cues = parse_srt(out.srt_path.read_text())
    assert cues and cues[0].start < 0.5 and cues[-1].end <= 3.0 + 1e-6  # relative to the clip
    assert parse_vtt(out.vtt_path.read_text())
    assert progress[0] == 0.0 and progress[-1] == 1.0
    assert progress == sorted(progress)


def test_burned_captions_are_visible_and_paths_are_escaped(moving_face: Path, tmp_path: Path) -> None:
    preset = SMALL_VERTICAL
    words = timed_words(TEXT, start=0.0)
    crop = CropPath.centered(640, 360, preset.aspect)
    odd = tmp_path / "we'ird, [dir]; x: y"  # every character the filtergraph treats specially
    odd.mkdir()
    ass = write_ass(odd / "caps.ass", words, 0.0, 3.0, CaptionStyle(), preset)
    outputs = {}
    for name, ass_path in (("with", ass), ("without", None)):
        plan = plan_render(
            moving_face, 0.0, 3.0, preset, crop_path=crop, ass_path=ass_path, audio_only=False, out=odd / f"{name}.mp4"
        )
        run_ffmpeg(plan.args, duration=plan.duration)
        outputs[name] = _frame(plan.output, 1.5)
    diff = np.abs(outputs["with"] - outputs["without"]).sum(axis=2)
    h = preset.height
    bottom_ui = int(h * (1 - preset.safe_bottom))
    caption_band = diff[int(h * 0.55) : bottom_ui]
    assert (caption_band > 60).mean() > 0.01  # glyph pixels changed
    assert (diff[: int(h * 0.4)] > 60).mean() < 0.001  # the top of the frame is untouched
    assert (diff[bottom_ui + 4 :] > 60).mean() < 0.001  # nothing under the platform UI


def test_audio_only_source_gets_a_card_and_waveform(tmp_path: Path) -> None:
    audio = tone_audio(tmp_path / "talk.m4a", seconds=4.0)
    out = render_clip(
        audio, Clip("a-1", 0.5, 3.0, "A talk with no picture"), timed_words("just a voice here.", 0.6),
        get_preset("square").scaled(0.25), CaptionStyle(), tmp_path / "a-1",
    )  # fmt: skip
    fmt, v, a = _streams(out.video_path)
    assert out.audio_only
    assert (v["codec_name"], a["codec_name"], out.width, out.height) == ("h264", "aac", 270, 270)
    assert float(fmt["duration"]) == pytest.approx(2.5, abs=0.1)
    frame = _frame(out.video_path, 1.0)
    assert frame.std() > 5  # not a blank frame: waveform, title and captions are drawn
    assert out.thumbnail_path.exists()


def test_clip_outside_the_source_is_rejected(moving_face: Path, tmp_path: Path) -> None:
    with pytest.raises(ValueError, match="outside the source"):
        render_clip(moving_face, Clip("x", 10.0, 20.0), [], SMALL_VERTICAL, None, tmp_path)
