"""ffmpeg command planning: one command per output (clip video, thumbnail).

Planning is pure (no process is started, no file written), so plans can be inspected, logged, unit
tested and compared with a hand-written ffmpeg command in benchmarks. :class:`RenderPlan.args` are
what :func:`clipforge_common.ffmpeg.run_ffmpeg` takes (it adds the global flags itself);
:meth:`RenderPlan.command` is the full equivalent command line.
"""

from __future__ import annotations

import os
import textwrap
from dataclasses import dataclass
from pathlib import Path
from typing import Literal

from .presets import VideoPreset, get_preset
from .reframe import CropPath

__all__ = [
    "RenderPlan",
    "escape_filter_value",
    "plan_render",
    "plan_thumbnail",
]

AUDIO_ONLY_BACKGROUND = "0x101820"
WAVE_COLOUR = "0xFFD400"


@dataclass(frozen=True)
class RenderPlan:
    """An ffmpeg invocation producing ``output`` (``duration`` seconds, ``width`` x ``height``)."""

    args: tuple[str, ...]
    output: Path
    duration: float
    width: int
    height: int

    def command(self, ffmpeg: str = "ffmpeg") -> list[str]:
        """The whole command line, with the same global flags run_ffmpeg adds (minus progress)."""
        return [ffmpeg, "-hide_banner", "-nostdin", "-y", *self.args]


def escape_filter_value(value: str) -> str:
    """Escape ``value`` for use as one option value inside an ffmpeg filtergraph.

    Two levels, as ffmpeg-filters documents: first for the filter's own option parser
    (``\\``, ``'`` and ``:``), then for the filtergraph parser (``\\``, ``'``, ``[``, ``]``, ``,``,
    ``;``). Works for any file name, including ones with quotes, commas, colons and brackets.
    """
    level1 = value.replace("\\", "\\\\").replace("'", "\\'").replace(":", "\\:")
    return "".join("\\" + c if c in "\\'[],;" else c for c in level1)


def _crop_chain(preset: VideoPreset, crop_path: CropPath | None, fit: Literal["crop", "pad"]) -> list[str]:
    w, h = preset.width, preset.height
    if fit == "pad":
        return [
            f"scale={w}:{h}:force_original_aspect_ratio=decrease",
            f"pad={w}:{h}:(ow-iw)/2:(oh-ih)/2:color=black",
        ]
    if crop_path is not None:
        crop = crop_path.crop_filter()
    else:
        # Centre crop to the preset's aspect, even sides; x/y default to centring.
        crop = f"crop='trunc(min(iw,ih*{w}/{h})/2)*2':'trunc(min(ih,iw*{h}/{w})/2)*2'"
    return [crop, f"scale={w}:{h}"]


def _threads(preset: VideoPreset) -> list[str]:
    return ["-threads", str(preset.threads)] if preset.threads else []


def _encode_args(preset: VideoPreset, duration: float) -> list[str]:
    return [
        *_threads(preset), "-c:v", preset.video_codec, "-preset", preset.x264_preset, "-crf", str(preset.crf),
        "-pix_fmt", preset.pix_fmt, "-r", str(preset.fps),
        "-c:a", preset.audio_codec, "-b:a", preset.audio_bitrate, "-ar", str(preset.audio_rate), "-ac", "2",
        "-t", f"{duration:.3f}", "-movflags", "+faststart",
    ]  # fmt: skip


def _title_filters(title: str, preset: VideoPreset, y_fraction: float, font: str) -> list[str]:
    """drawtext filters for a wrapped title (one per line: drawtext has no wrapping of its own)."""
    size = max(16, int(preset.width * 0.065))
    chars = max(8, int(preset.width * 0.9 / (size * 0.6)))
    lines = textwrap.wrap(title, chars)[:3]
    out: list[str] = []
    for i, line in enumerate(lines):
        y = int(preset.height * y_fraction + i * size * 1.25)
        out.append(
            f"drawtext=font={escape_filter_value(font)}:text={escape_filter_value(line)}:expansion=none"
            f":fontsize={size}:fontcolor=white:borderw={max(1, size // 16)}:bordercolor=black"
            f":x=(w-text_w)/2:y={y}"
        )
    return out


def plan_render(
    source: str | Path,
    clip_start: float,
    clip_end: float,
    preset: str | VideoPreset,
    *,
    crop_path: CropPath | None = None,
    ass_path: str | Path | None = None,
    audio_only: bool = False,
    out: str | Path,
    title: str | None = None,
    fit: Literal["crop", "pad"] = "crop",
    title_font: str = "DejaVu Sans",
) -> RenderPlan:
    """Plan the clip video: cut ``[clip_start, clip_end]``, reframe, scale, burn captions, encode.

    Video sources are cropped along ``crop_path`` (a centre crop when None; ``fit="pad"``
    letterboxes instead) and scaled to the preset. Audio-only sources get a title card with a live
    waveform. ``ass_path`` (times relative to the clip) is burned in with libass. Seeking is on the
    input (fast), and exact because the clip is re-encoded.
    """
    p = get_preset(preset)
    duration = round(clip_end - clip_start, 3)
    if duration <= 0:
        raise ValueError(f"empty clip: {clip_start}..{clip_end}")
    src = os.fspath(source)
    subs = f"ass=filename={escape_filter_value(os.fspath(ass_path))}" if ass_path is not None else None
    cut = ["-ss", f"{clip_start:.3f}", "-t", f"{duration:.3f}"]

    if not audio_only:
        chain = _crop_chain(p, crop_path, fit)
        # fps first: a 60 fps source then costs half as much in every later filter.
        chain = [f"fps={p.fps}", *chain, "setsar=1"]
        if subs:
            chain.append(subs)
        chain.append(f"format={p.pix_fmt}")
        graph = f"[0:v]{','.join(chain)}[v]"
        args = [*cut, *_threads(p), "-i", src, "-filter_complex", graph, "-map", "[v]", "-map", "0:a?"]
    else:
        w, h = p.width, p.height
        wave_h = (h // 4) // 2 * 2
        canvas = f"color=c={AUDIO_ONLY_BACKGROUND}:s={w}x{h}:r={p.fps}:d={duration:.3f}"
        card = [f"[0:v][wave]overlay=x=0:y={(h - wave_h) // 2}:shortest=1"]
        if title:
            card += _title_filters(title, p, p.safe_top + 0.03, title_font)
        if subs:
            card.append(subs)
        card.append(f"format={p.pix_fmt}")
        graph = ";".join(
            [
                "[1:a]asplit=2[aout][aw]",
                f"[aw]aformat=channel_layouts=mono,showwaves=s={w}x{wave_h}:mode=cline:rate={p.fps}"
                f":colors={WAVE_COLOUR}[wave]",
                ",".join(card) + "[v]",
            ]
        )
        args = ["-f", "lavfi", "-i", canvas, *cut, *_threads(p), "-i", src, "-filter_complex", graph]
        args += ["-map", "[v]", "-map", "[aout]"]
    args += _encode_args(p, duration)
    args.append(os.fspath(out))
    return RenderPlan(tuple(args), Path(out), duration, p.width, p.height)


def plan_thumbnail(
    source: str | Path,
    at: float,
    preset: str | VideoPreset,
    *,
    crop_path: CropPath | None = None,
    clip_start: float = 0.0,
    audio_only: bool = False,
    out: str | Path,
    title: str | None = None,
    fit: Literal["crop", "pad"] = "crop",
    title_font: str = "DejaVu Sans",
) -> RenderPlan:
    """Plan a JPEG of the frame at ``at`` (source seconds) framed exactly like the clip.

    ``crop_path`` times are relative to ``clip_start``; the window at ``at`` is used as a static
    crop. Audio-only sources get the title card.
    """
    p = get_preset(preset)
    tail = ["-frames:v", "1", "-q:v", "3", "-update", "1", os.fspath(out)]
    if audio_only:
        canvas = f"color=c={AUDIO_ONLY_BACKGROUND}:s={p.width}x{p.height}:r=1:d=1"
        chain = _title_filters(title, p, 0.4, title_font) if title else []
        chain.append("format=yuvj420p")
        args = ["-f", "lavfi", "-i", canvas, "-vf", ",".join(chain), *tail]
    else:
        static = None
        if crop_path is not None:
            x, y, w, h = crop_path.window_at(at - clip_start)
            offset = float(y if crop_path.axis == "y" else x)
            static = CropPath(crop_path.source_width, crop_path.source_height, w, h, crop_path.axis, ((0.0, offset),))
        chain = [*_crop_chain(p, static, fit), "setsar=1", "format=yuvj420p"]
        args = ["-ss", f"{max(0.0, at):.3f}", "-i", os.fspath(source), "-vf", ",".join(chain), *tail]
    return RenderPlan(tuple(args), Path(out), 0.0, p.width, p.height)
