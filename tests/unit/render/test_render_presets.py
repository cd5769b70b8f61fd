"""Presets and caption styles."""

from __future__ import annotations

import pytest
from clipforge_common.events.v1 import CaptionStyleData
from clipforge_render.domain.presets import PRESETS, CaptionStyle, VideoPreset, get_preset, hex_to_ass
from pydantic import ValidationError


def test_platform_presets() -> None:
    assert {n: (p.width, p.height) for n, p in PRESETS.items()} == {
        "vertical": (1080, 1920),
        "square": (1080, 1080),
        "landscape": (1920, 1080),
    }
    for p in PRESETS.values():
        assert (p.video_codec, p.pix_fmt, p.x264_preset, p.crf, p.fps) == ("libx264", "yuv420p", "veryfast", 23, 30)
        assert (p.audio_codec, p.audio_bitrate) == ("aac", "128k")
    # Vertical keeps captions above the bottom ~20% of platform UI.
    assert PRESETS["vertical"].safe_bottom >= 0.2


def test_get_preset_and_scaling() -> None:
    assert get_preset("square") is PRESETS["square"]
    assert get_preset(PRESETS["landscape"]) is PRESETS["landscape"]
    with pytest.raises(ValueError, match="unknown preset"):
        get_preset("cinema")
    small = PRESETS["vertical"].scaled(0.25)
    assert (small.width, small.height, small.name) == (270, 480, "vertical")
    odd = PRESETS["square"].scaled(0.1234)
    assert odd.width % 2 == 0 and odd.height % 2 == 0
    with pytest.raises(ValidationError):
        VideoPreset(name="odd", width=101, height=100)


def test_hex_to_ass_colour_order() -> None:
    assert hex_to_ass("#FFD400") == "&H0000D4FF"
    assert hex_to_ass("112233") == "&H00332211"
    assert hex_to_ass("#11223380") == "&H7F332211"  # 0x80 opacity -> 0x7F transparency
    with pytest.raises(ValueError):
        hex_to_ass("yellow")


@pytest.mark.parametrize(
    "bad",
    [
        {"primary_color": "white"},
        {"highlight_color": "#12345"},
        {"font": "DejaVu Sans, Bold"},
        {"max_lines": 4},
        {"max_chars": 2},
        {"position": "left"},
        {"font_size": 1},
    ],
)
def test_caption_style_validation(bad: dict) -> None:
    with pytest.raises(ValidationError):
        CaptionStyle(**bad)


def test_caption_style_from_request() -> None:
    req = CaptionStyleData(font_size=60, highlight_color="#00FF00", position="top")
    style = CaptionStyle.from_request(req)
    assert (style.font_size, style.highlight_color, style.position) == (60, "#00FF00", "top")
    assert style.primary_color == CaptionStyle().primary_color  # null fields keep defaults
    assert CaptionStyle.from_request(None) == CaptionStyle()
    assert not CaptionStyle.from_request({"enabled": False}).enabled


def test_auto_font_size_fits_the_line() -> None:
    style = CaptionStyle()
    for p in PRESETS.values():
        size = style.resolved_font_size(p)
        assert size * 0.62 * style.max_chars <= p.width * (1 - 2 * p.safe_sides) + 1
        assert size >= 0.02 * p.height
    assert CaptionStyle(font_size=70).resolved_font_size(PRESETS["vertical"]) == 70
