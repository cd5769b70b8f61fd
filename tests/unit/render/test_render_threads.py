"""An ffmpeg thread count on a preset reaches both the source decoder and the encoder."""

from __future__ import annotations

from clipforge_render.domain import CropPath, get_preset, plan_render


def test_default_leaves_threads_to_ffmpeg() -> None:
    plan = plan_render("in.mp4", 1.0, 5.0, "vertical", out="out.mp4")
    assert "-threads" not in plan.args


def test_threads_apply_to_decoding_and_encoding() -> None:
    preset = get_preset("vertical").model_copy(update={"threads": 2})
    crop = CropPath.centered(1920, 1080, preset.aspect)
    args = plan_render("in.mp4", 1.0, 5.0, preset, crop_path=crop, out="out.mp4").args
    source = args.index("in.mp4")
    assert args[source - 3 : source - 1] == ("-threads", "2")  # an input option of the source
    encode = args.index("-c:v")
    assert args[encode - 2 : encode] == ("-threads", "2")
    assert args.count("-threads") == 2
    audio_only = plan_render("in.m4a", 0.0, 4.0, preset, audio_only=True, out="out.mp4").args
    assert audio_only.count("-threads") == 2
