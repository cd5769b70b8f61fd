"""Output presets (size and encoding) and caption styles.

Sizes follow the platforms: vertical 1080x1920 for Shorts/Reels/TikTok, square 1080x1080 and
landscape 1920x1080. Encoding is H.264 yuv420p + AAC in MP4 with faststart, which every platform
and browser plays.
"""

from __future__ import annotations

import re
from collections.abc import Mapping
from typing import Any, Literal

from pydantic import BaseModel, ConfigDict, Field, field_validator, model_validator

__all__ = ["PRESETS", "CaptionStyle", "VideoPreset", "get_preset"]


class VideoPreset(BaseModel):
    """Frame size, encoder settings and the caption safe zone of one output format."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    name: str = Field(pattern=r"^[a-z0-9][a-z0-9_-]*$")
    width: int = Field(ge=16, le=4096)
    height: int = Field(ge=16, le=4096)
    fps: int = Field(default=30, ge=1, le=120)
    video_codec: str = "libx264"
    pix_fmt: str = "yuv420p"
    x264_preset: str = "veryfast"
    crf: int = Field(default=23, ge=0, le=51)
    audio_codec: str = "aac"
    audio_bitrate: str = Field(default="128k", pattern=r"^\d+k$")
    audio_rate: int = 48_000
    # Every x264 frame thread holds several full-size frames: at 1080x1920 ffmpeg's default (1.5 per
    # core, plus decoder threads) is what dominates a render's memory. None keeps ffmpeg's choice.
    threads: int | None = Field(default=None, ge=1, le=64, description="ffmpeg threads to decode the source and encode")
    # Fractions of the frame covered by platform UI (buttons, description, progress bar), so
    # captions and other essentials stay clear of them.
    safe_bottom: float = Field(default=0.08, ge=0, lt=0.5)
    safe_top: float = Field(default=0.08, ge=0, lt=0.5)
    safe_sides: float = Field(default=0.05, ge=0, lt=0.5)

    @model_validator(mode="after")
    def _even(self) -> VideoPreset:
        if self.width % 2 or self.height % 2:
            raise ValueError("yuv420p needs even width and height")
        return self

    @property
    def aspect(self) -> float:
        return self.width / self.height

    @property
    def size(self) -> str:
        return f"{self.width}x{self.height}"

    def scaled(self, factor: float) -> VideoPreset:
        """Same preset at a smaller (or larger) size; even dimensions. Handy for fast tests/previews."""
        w = max(16, round(self.width * factor / 2) * 2)
        h = max(16, round(self.height * factor / 2) * 2)
        return self.model_copy(update={"width": w, "height": h})


PRESETS: dict[str, VideoPreset] = {
    # Short-form apps put buttons on the right and the caption/description over the bottom ~20%.
    "vertical": VideoPreset(name="vertical", width=1080, height=1920, safe_bottom=0.22, safe_top=0.12, safe_sides=0.08),
    "square": VideoPreset(name="square", width=1080, height=1080),
    "landscape": VideoPreset(name="landscape", width=1920, height=1080),
}


def get_preset(preset: str | VideoPreset) -> VideoPreset:
    """Look a preset up by name (``vertical``, ``square``, ``landscape``); presets pass through."""
    if isinstance(preset, VideoPreset):
        return preset
    try:
        return PRESETS[preset]
    except KeyError:
        raise ValueError(f"unknown preset {preset!r}; choose one of {sorted(PRESETS)}") from None


_HEX = re.compile(r"^#?([0-9a-fA-F]{6})([0-9a-fA-F]{2})?$")


def hex_to_ass(colour: str) -> str:
    """``#RRGGBB`` (or ``#RRGGBBAA``, AA = opacity) -> ASS ``&HAABBGGRR`` (AA = transparency)."""
    m = _HEX.match(colour.strip())
    if not m:
        raise ValueError(f"not a #RRGGBB colour: {colour!r}")
    rgb = m.group(1)
    alpha = 255 - int(m.group(2), 16) if m.group(2) else 0
    r, g, b = rgb[0:2], rgb[2:4], rgb[4:6]
    return f"&H{alpha:02X}{b.upper()}{g.upper()}{r.upper()}"


class CaptionStyle(BaseModel):
    """How burned-in captions look. Sizes are in output pixels; ``font_size=None`` picks one that
    fits ``max_chars`` on a line of the preset's safe width."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    enabled: bool = True
    font: str = Field(default="DejaVu Sans", min_length=1, description="fontconfig family name")
    font_size: int | None = Field(default=None, ge=8, le=200)
    bold: bool = True
    uppercase: bool = False
    primary_color: str = "#FFFFFF"
    highlight_color: str = "#FFD400"
    outline_color: str = "#000000"
    outline: float = Field(default=3.0, ge=0, le=20, description="outline width, px at 1080 wide")
    shadow: float = Field(default=1.0, ge=0, le=20)
    position: Literal["bottom", "middle", "top"] = "bottom"
    max_chars: int = Field(default=32, ge=8, le=80)
    max_lines: int = Field(default=2, ge=1, le=3)
    max_chunk_seconds: float = Field(default=3.5, gt=0, description="split longer chunks for readability")
    pause_break: float = Field(default=0.6, ge=0, description="a silence this long starts a new chunk")

    @field_validator("primary_color", "highlight_color", "outline_color")
    @classmethod
    def _colour(cls, value: str) -> str:
        hex_to_ass(value)  # raises on a bad value
        return value if value.startswith("#") else f"#{value}"

    @field_validator("font")
    @classmethod
    def _font_name(cls, value: str) -> str:
        # The name lands inside an ASS Style line, where a comma would shift every field.
        if any(c in value for c in ",\n\r"):
            raise ValueError("font name must not contain commas or newlines")
        return value

    @classmethod
    def from_request(cls, data: Mapping[str, Any] | BaseModel | None, base: CaptionStyle | None = None) -> CaptionStyle:
        """Defaults (or ``base``) overridden by the non-null fields of a request (e.g. CaptionStyleData)."""
        base = base or cls()
        if data is None:
            return base
        raw = data.model_dump() if isinstance(data, BaseModel) else dict(data)
        changes = {k: v for k, v in raw.items() if v is not None and k in cls.model_fields}
        return cls.model_validate(base.model_dump() | changes)

    def resolved_font_size(self, preset: VideoPreset) -> int:
        if self.font_size is not None:
            return self.font_size
        usable = preset.width * (1 - 2 * preset.safe_sides)
        # DejaVu Sans Bold averages ~0.6 em per character; cap at 5% of the height for wide frames.
        return max(12, int(min(usable / (self.max_chars * 0.62), preset.height * 0.05)))
