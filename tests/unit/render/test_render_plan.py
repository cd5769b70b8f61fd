"""ffmpeg plans: one command per output, the right filters per preset, safe escaping."""

from __future__ import annotations

from pathlib import Path

import pytest
from clipforge_render.domain.plan import escape_filter_value, plan_render, plan_thumbnail
from clipforge_render.domain.presets import PRESETS
from clipforge_render.domain.reframe import CropPath

SRC = Path("/media/source.mp4")


def _graph(args: tuple[str, ...]) -> str:
    return args[args.index("-filter_complex") + 1]


@pytest.mark.parametrize("name", ["vertical", "square", "landscape"])
def test_video_plan_per_preset(name: str, tmp_path: Path) -> None:
    preset = PRESETS[name]
    crop = CropPath.centered(1920, 1080, preset.aspect)
    plan = plan_render(
        SRC, 12.5, 47.5, preset, crop_path=crop, ass_path=tmp_path / "c.ass", audio_only=False, out=tmp_path / "o.mp4"
    )
    args = plan.args
    # Accurate, fast seek: -ss/-t on the input, then re-encode.
    assert args[: args.index("-i")] == ("-ss", "12.500", "-t", "35.000")
    assert args[args.index("-i") + 1] == str(SRC)
    graph = _graph(args)
    assert f"scale={preset.width}:{preset.height}" in graph
    assert crop.crop_filter() in graph
    assert graph.index("crop=") < graph.index("scale=") < graph.index("ass=filename=")  # captions at output size
    assert "fps=30" in graph and "setsar=1" in graph and graph.endswith("format=yuv420p[v]")
    for flag, value in [
        ("-c:v", "libx264"),
        ("-preset", "veryfast"),
        ("-crf", "23"),
        ("-pix_fmt", "yuv420p"),
        ("-c:a", "aac"),
        ("-b:a", "128k"),
        ("-movflags", "+faststart"),
        ("-map", "[v]"),
    ]:
        assert args[args.index(flag) + 1] == value
    assert "0:a?" in args  # audio mapped when present, no failure when absent
    # One command, one output: the last argument.
    assert args[-1] == str(tmp_path / "o.mp4") and sum(a.endswith(".mp4") for a in args) == 2
    assert (plan.width, plan.height, plan.duration) == (preset.width, preset.height, 35.0)
    assert plan.command()[:4] == ["ffmpeg", "-hide_banner", "-nostdin", "-y"]


def test_crop_for_vertical_from_16_9() -> None:
    crop = CropPath.centered(1920, 1080, 9 / 16)
    assert (crop.crop_width, crop.crop_height, crop.axis) == (606, 1080, "x")
    assert crop.crop_filter() == "crop=606:1080:657:0"
    assert CropPath.centered(1920, 1080, 16 / 9).crop_filter() == "crop=1920:1080:0:0"
    tall = CropPath.centered(1080, 1920, 1.0)
    assert (tall.crop_width, tall.crop_height, tall.axis) == (1080, 1080, "y")


def test_default_centre_crop_and_pad_modes(tmp_path: Path) -> None:
    graph = _graph(plan_render(SRC, 0, 10, "square", audio_only=False, out=tmp_path / "o.mp4").args)
    assert "crop='trunc(min(iw,ih*1080/1080)/2)*2'" in graph and "ass=" not in graph
    graph = _graph(plan_render(SRC, 0, 10, "vertical", audio_only=False, out=tmp_path / "o.mp4", fit="pad").args)
    assert "force_original_aspect_ratio=decrease" in graph and "pad=1080:1920" in graph


def test_audio_only_plan_has_waveform_title_and_captions(tmp_path: Path) -> None:
    plan = plan_render(
        Path("/m/talk.m4a"),
        5,
        20,
        "vertical",
        ass_path=tmp_path / "c.ass",
        audio_only=True,
        out=tmp_path / "o.mp4",
        title="Why: 100% [real], isn't it?",
    )
    args = plan.args
    assert args[:4] == ("-f", "lavfi", "-i", "color=c=0x101820:s=1080x1920:r=30:d=15.000")
    graph = _graph(args)
    assert "showwaves=s=1080x480" in graph and "asplit=2[aout][aw]" in graph
    assert "drawtext=" in graph and "expansion=none" in graph
    # Long titles wrap into one drawtext per line; special characters are escaped for the graph.
    assert "text=Why\\\\: 100% \\[real\\]\\, isn\\\\\\'t:" in graph and "text=it?:" in graph
    assert "ass=filename=" in graph
    assert args[args.index("[aout]") - 1 : args.index("[aout]") + 1] == ("-map", "[aout]")


def test_thumbnail_plan_uses_the_crop_at_that_time(tmp_path: Path) -> None:
    crop = CropPath(1920, 1080, 606, 1080, "x", ((0.0, 100.0), (10.0, 1100.0)))
    plan = plan_thumbnail(SRC, 15.0, "vertical", crop_path=crop, clip_start=10.0, out=tmp_path / "t.jpg")
    args = plan.args
    assert args[:4] == ("-ss", "15.000", "-i", str(SRC))
    vf = args[args.index("-vf") + 1]
    assert vf.startswith("crop=606:1080:600:0,scale=1080:1920")
    assert args[args.index("-frames:v") + 1] == "1" and args[-1].endswith("t.jpg")
    card = plan_thumbnail(SRC, 0, "square", audio_only=True, out=tmp_path / "t.jpg", title="Hi")
    assert "color=c=" in " ".join(card.args) and "drawtext=" in " ".join(card.args)


def test_filter_escaping_matches_ffmpeg_docs() -> None:
    # The example from ffmpeg-filters "Notes on filtergraph escaping".
    raw = "this is a 'string': may contain one, or more, special characters"
    expected = "this is a \\\\\\'string\\\\\\'\\\\: may contain one\\, or more\\, special characters"
    assert escape_filter_value(raw) == expected
    assert escape_filter_value("/tmp/a[1];b.ass") == "/tmp/a\\[1\\]\\;b.ass"


def test_empty_clip_is_rejected(tmp_path: Path) -> None:
    with pytest.raises(ValueError, match="empty clip"):
        plan_render(SRC, 5, 5, "vertical", audio_only=False, out=tmp_path / "o.mp4")
