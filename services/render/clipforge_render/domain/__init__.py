"""The render service's pure domain core: source media + clip + words -> captioned clip files.

No Kafka, database or S3 in here. :func:`render_clip` runs in-process (adapters call it from a
worker thread): probe, reframe, captions, one ffmpeg command for the video, one for the thumbnail,
and SRT/VTT side files.
"""

from __future__ import annotations

import os
import re
import tempfile
from collections.abc import Callable, Sequence
from pathlib import Path
from typing import Any, Literal, Protocol, runtime_checkable

from clipforge_common.captions import to_srt, to_vtt
from clipforge_common.ffmpeg import MediaToolError, ffprobe, run_ffmpeg
from clipforge_common.transcript import Sentence, Transcript, Word
from pydantic import BaseModel

from .captions_ass import CaptionChunk, build_ass, chunk_words, write_ass
from .plan import RenderPlan, escape_filter_value, plan_render, plan_thumbnail
from .presets import PRESETS, CaptionStyle, VideoPreset, get_preset
from .reframe import CropPath, FaceSample, ReframeConfig, crop_size, plan_crop_path, reframe

__all__ = [
    "PRESETS",
    "CaptionChunk",
    "CaptionStyle",
    "ClipLike",
    "CropPath",
    "FaceSample",
    "MediaToolError",
    "ReframeConfig",
    "RenderOutputs",
    "RenderPlan",
    "SourceInfo",
    "VideoPreset",
    "build_ass",
    "chunk_words",
    "escape_filter_value",
    "get_preset",
    "plan_crop_path",
    "plan_render",
    "plan_thumbnail",
    "probe_source",
    "reframe",
    "render_clip",
    "write_ass",
]

ProgressCallback = Callable[[float], None]


@runtime_checkable
class ClipLike(Protocol):
    """What render needs of a clip (RankedClip, RankedClipData and the gateway's rows all fit)."""

    clip_id: str
    start: float
    end: float


class SourceInfo(BaseModel):
    """The parts of ffprobe's answer rendering cares about."""

    duration: float | None
    width: int | None
    height: int | None
    has_video: bool
    has_audio: bool

    @property
    def audio_only(self) -> bool:
        return self.has_audio and not self.has_video


class RenderOutputs(BaseModel):
    """Files written by :func:`render_clip` and the facts ``clip.rendered`` reports."""

    video_path: Path
    thumbnail_path: Path
    srt_path: Path | None
    vtt_path: Path | None
    duration: float
    width: int
    height: int
    size: int
    preset: str
    audio_only: bool = False
    crop_filter: str | None = None
    crop_path: CropPath | None = None  # the reframing used (None for audio-only or pad)


def probe_source(source: str | Path) -> SourceInfo:
    """Probe ``source``; cover art (an attached picture) does not count as video."""
    info = ffprobe(source)
    streams = info.get("streams", [])
    video = [
        s for s in streams if s.get("codec_type") == "video" and not (s.get("disposition") or {}).get("attached_pic")
    ]
    has_audio = any(s.get("codec_type") == "audio" for s in streams)
    duration = info.get("format", {}).get("duration")
    return SourceInfo(
        duration=float(duration) if duration not in (None, "N/A") else None,
        width=int(video[0]["width"]) if video else None,
        height=int(video[0]["height"]) if video else None,
        has_video=bool(video),
        has_audio=has_audio,
    )


def _transcript_from_words(words: Sequence[Word]) -> Transcript:
    """A minimal transcript for the caption writers: sentences split at . ! ? (or one sentence)."""
    sentences: list[Sentence] = []
    first = 0
    for i, w in enumerate(words):
        if re.search(r"[.!?…][\"')\]]*$", w.word.strip()) or i == len(words) - 1:
            chunk = words[first : i + 1]
            sentences.append(
                Sentence(
                    text=" ".join(x.word.strip() for x in chunk),
                    start=chunk[0].start,
                    end=chunk[-1].end,
                    first_word=first,
                    last_word=i,
                )
            )
            first = i + 1
    return Transcript(
        engine="render",
        engine_version="0",
        duration=max((w.end for w in words), default=0.0),
        words=list(words),
        sentences=sentences,
    )


def _thumbnail_time(samples: Sequence[FaceSample], duration: float) -> float:
    """A frame with a face, as close as possible to a third into the clip (else that third)."""
    target = duration / 3
    faces = [s.t for s in samples if s.box is not None]
    if not faces:
        return target
    return min(faces, key=lambda t: abs(t - target))


def render_clip(
    source: str | Path,
    clip: ClipLike,
    words: Sequence[Word],
    preset: str | VideoPreset,
    style: CaptionStyle | None,
    out_dir: str | Path,
    *,
    on_progress: ProgressCallback | None = None,
    transcript: Transcript | None = None,
    reframe_config: ReframeConfig | None = None,
    fit: Literal["crop", "pad"] = "crop",
    face_tracking: bool = True,
    timeout: float | None = None,
) -> RenderOutputs:
    """Render ``clip`` of ``source`` to ``out_dir/<preset>.mp4`` (+ ``.jpg``, ``.srt``, ``.vtt``).

    ``out_dir`` should be per clip (it mirrors ``clips/<clip_id>/`` in the object store). ``words``
    are the transcript words with source times (extra words outside the clip are ignored);
    ``transcript``, when given, is used for the SRT/VTT sentence breaks. ``style=None`` or
    ``style.enabled=False`` renders without burned-in captions (SRT/VTT are still written when there
    are words). ``on_progress`` receives a fraction in 0..1. Raises :class:`MediaToolError` when
    ffmpeg/ffprobe fail and ``ValueError`` for a clip outside the source.
    """
    p = get_preset(preset)
    out = Path(out_dir)
    out.mkdir(parents=True, exist_ok=True)
    report = on_progress or (lambda _f: None)

    info = probe_source(source)
    if not info.has_video and not info.has_audio:
        raise ValueError(f"{source} has neither video nor audio")
    start = max(0.0, float(clip.start))
    end = float(clip.end) if info.duration is None else min(float(clip.end), info.duration)
    if end - start <= 0.05:
        raise ValueError(f"clip {clip.clip_id} ({clip.start}..{clip.end}) is outside the source")
    duration = end - start
    title: str | None = getattr(clip, "title", None) or None
    report(0.0)

    crop: CropPath | None = None
    samples: list[FaceSample] = []
    if info.has_video and fit == "crop" and info.width and info.height:
        # Same aspect as the output (e.g. 16:9 -> landscape): nothing to pan, skip face detection.
        if face_tracking and crop_size(info.width, info.height, p.aspect)[2] is not None:
            crop, samples = reframe(source, start, end, p.aspect, config=reframe_config)
        else:
            crop = CropPath.centered(info.width, info.height, p.aspect)
    report(0.15)

    video_path = out / f"{p.name}.mp4"
    thumb_path = out / f"{p.name}.jpg"
    with tempfile.TemporaryDirectory(prefix="clipforge-render-") as tmp:
        ass_path = None
        if style is not None and style.enabled and words:
            ass_path = write_ass(Path(tmp) / "captions.ass", words, start, end, style, p)
        plan = plan_render(
            source,
            start,
            end,
            p,
            crop_path=crop,
            ass_path=ass_path,
            audio_only=info.audio_only,
            out=video_path,
            title=title,
            fit=fit,
        )
        run_ffmpeg(
            plan.args,
            duration=plan.duration,
            on_progress=lambda f: report(0.15 + 0.8 * f),
            timeout=timeout,
        )
    thumb = plan_thumbnail(
        source,
        start + _thumbnail_time(samples, duration),
        p,
        crop_path=crop,
        clip_start=start,
        audio_only=info.audio_only,
        out=thumb_path,
        title=title,
        fit=fit,
    )
    run_ffmpeg(thumb.args, timeout=timeout)

    srt_path = vtt_path = None
    if words or transcript is not None:
        doc = transcript or _transcript_from_words(words)
        st = style or CaptionStyle()
        srt_path = out / f"{p.name}.srt"
        vtt_path = out / f"{p.name}.vtt"
        srt_path.write_text(to_srt(doc, start, end, max_chars=st.max_chars, max_lines=st.max_lines), "utf-8")
        vtt_path.write_text(to_vtt(doc, start, end, max_chars=st.max_chars, max_lines=st.max_lines), "utf-8")

    made = _probe_output(video_path)
    report(1.0)
    return RenderOutputs(
        video_path=video_path,
        thumbnail_path=thumb_path,
        srt_path=srt_path,
        vtt_path=vtt_path,
        duration=made["duration"],
        width=made["width"],
        height=made["height"],
        size=os.path.getsize(video_path),
        preset=p.name,
        audio_only=info.audio_only,
        crop_filter=crop.crop_filter() if crop is not None else None,
        crop_path=crop,
    )


def _probe_output(path: Path) -> dict[str, Any]:
    info = ffprobe(path)
    video = next((s for s in info["streams"] if s.get("codec_type") == "video"), None)
    if video is None:
        raise MediaToolError(f"{path.name} has no video stream after rendering")
    return {
        "duration": round(float(info["format"].get("duration", 0.0)), 3),
        "width": int(video["width"]),
        "height": int(video["height"]),
    }
