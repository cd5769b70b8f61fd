"""Probe a media file and decide whether ClipForge can use it.

Every rejection is an :class:`IngestRejected` with a stable ``reason_code`` (for the
``video.ingest_failed`` event and API clients) and a message that tells the user what to do.
"""

from __future__ import annotations

import os
import struct
import subprocess
from fractions import Fraction
from pathlib import Path
from typing import Any

from clipforge_common.ffmpeg import FFMPEG, MediaToolError, ffprobe, media_tool_options
from pydantic import BaseModel, Field

__all__ = [
    "REASON_CODES",
    "IngestLimits",
    "IngestRejected",
    "MediaInfo",
    "probe_media",
    "validate_media",
]

REASON_CODES = frozenset(
    {
        "missing_file",
        "empty_file",
        "truncated",
        "not_media",
        "image_not_video",
        "no_streams",
        "no_audio_track",
        "too_short",
        "too_long",
        "too_large",
        "unsupported_codec",
    }
)

# Still-image codecs: a "video" made of one of these is a picture, not a talk.
_IMAGE_CODECS = frozenset({"png", "mjpeg", "jpeg2000", "bmp", "gif", "webp", "tiff", "apng", "jpegls", "qoi"})
_IMAGE_FORMATS = frozenset({"image2", "gif", "apng", "webp_pipe"})
# ffmpeg's demuxers for text "art" files; a text file renamed .txt/.ans probes as one of these.
_TEXT_FORMATS = frozenset({"tty", "ansi", "srt", "webvtt", "ass", "subviewer", "microdvd"})
# Top-level ISO-BMFF box types; a file starting with one is an MP4/MOV/M4A family container.
_BMFF_BOXES = {b"ftyp", b"moov", b"mdat", b"free", b"skip", b"wide", b"pdin", b"styp", b"uuid"}
# stderr phrases from a tail decode that mean data is missing, not merely odd.
_TRUNCATION_MARKERS = ("partial file", "moov atom not found", "invalid data found", "error while decoding")

_RETRY_UPLOAD = "Upload the complete file again (wait until the upload or export has fully finished)."


class IngestRejected(Exception):
    """The media cannot be used; ``reason_code`` is stable, ``message`` is for the user."""

    def __init__(self, reason_code: str, message: str) -> None:
        super().__init__(f"{reason_code}: {message}")
        self.reason_code = reason_code
        self.message = message


class IngestLimits(BaseModel):
    max_duration_s: float = Field(default=4 * 3600, gt=0)
    min_duration_s: float = Field(default=1.0, ge=0)
    max_size_bytes: int = Field(default=10 * 1024**3, gt=0)
    # None accepts anything ffmpeg can decode; a set restricts to those ffprobe codec names.
    allowed_video_codecs: frozenset[str] | None = None
    allowed_audio_codecs: frozenset[str] | None = None
    # Decode the last seconds to catch files cut short after ffprobe's header looked fine.
    check_tail: bool = True
    tail_seconds: float = Field(default=3.0, gt=0)


class MediaInfo(BaseModel):
    duration: float = Field(ge=0, description="seconds")
    size: int = Field(ge=0, description="bytes")
    container: str = Field(description="ffprobe format_name, e.g. 'mov,mp4,m4a,3gp,3g2,mj2'")
    has_video: bool
    has_audio: bool
    width: int | None = None
    height: int | None = None
    fps: float | None = None
    video_codec: str | None = None
    audio_codec: str | None = None
    audio_sample_rate: int | None = None
    audio_channels: int | None = None
    bit_rate: int | None = None
    still_image: bool = Field(default=False, description="the only picture is a single still image")

    @property
    def audio_only(self) -> bool:
        return self.has_audio and not self.has_video


def probe_media(path: str | os.PathLike[str], limits: IngestLimits | None = None) -> MediaInfo:
    """Probe ``path`` and validate it against ``limits``; raises :class:`IngestRejected`."""
    limits = limits or IngestLimits()
    p = Path(path)
    try:
        size = p.stat().st_size
    except FileNotFoundError as exc:
        raise IngestRejected("missing_file", "The uploaded file could not be found. Upload it again.") from exc
    if size == 0:
        raise IngestRejected("empty_file", f"The file is empty (0 bytes). {_RETRY_UPLOAD}")
    if size > limits.max_size_bytes:
        raise IngestRejected(
            "too_large",
            f"The file is {_human_bytes(size)}; the limit is {_human_bytes(limits.max_size_bytes)}. "
            "Upload a shorter video or export it at a lower bitrate.",
        )
    head = _read_head(p)
    if _bmff_truncated(p, size):
        raise IngestRejected("truncated", f"The file is cut off before its end. {_RETRY_UPLOAD}")
    try:
        data = ffprobe(p)
    except MediaToolError as exc:
        raise _unreadable(_sniff(head)) from exc

    info = _media_info(data, size)
    validate_media(info, limits)
    if limits.check_tail and info.duration > 0 and _tail_is_broken(p, info.duration, limits.tail_seconds):
        raise IngestRejected(
            "truncated", f"The end of the file is missing or damaged and cannot be played. {_RETRY_UPLOAD}"
        )
    return info


def validate_media(info: MediaInfo, limits: IngestLimits) -> None:
    """Policy checks on probed media; raises :class:`IngestRejected`."""
    if info.container in _TEXT_FORMATS:
        raise _unreadable("text")
    if info.still_image and not info.has_audio:
        raise IngestRejected(
            "image_not_video", "This is a still image, not a video. Upload a video or audio recording of a talk."
        )
    if not info.has_video and not info.has_audio:
        raise IngestRejected(
            "no_streams", "The file contains no audio or video. Upload a video or audio recording of a talk."
        )
    if not info.has_audio:
        raise IngestRejected(
            "no_audio_track",
            "The video has no audio track, so there is no speech to transcribe. Upload a version with sound.",
        )
    for kind, codec, allowed in (
        ("video", info.video_codec, limits.allowed_video_codecs),
        ("audio", info.audio_codec, limits.allowed_audio_codecs),
    ):
        if kind == "video" and not info.has_video:
            continue
        if not codec or codec in ("none", "unknown") or (allowed is not None and codec not in allowed):
            accepted = ", ".join(sorted(allowed)) if allowed else "H.264, HEVC, VP9, AV1, AAC, MP3, Opus"
            raise IngestRejected(
                "unsupported_codec",
                f"The {kind} codec ({codec or 'unknown'}) is not supported. "
                f"Re-export the file with a common codec such as {accepted}.",
            )
    if info.duration <= 0:
        raise IngestRejected("truncated", f"The file's duration cannot be determined. {_RETRY_UPLOAD}")
    if info.duration < limits.min_duration_s:
        raise IngestRejected(
            "too_short",
            f"The recording is {info.duration:.1f} s long; at least {limits.min_duration_s:g} s is needed.",
        )
    if info.duration > limits.max_duration_s:
        raise IngestRejected(
            "too_long",
            f"The recording is {_human_duration(info.duration)} long; the limit is "
            f"{_human_duration(limits.max_duration_s)}. Trim it or split it into parts.",
        )


def _media_info(data: dict[str, Any], size: int) -> MediaInfo:
    fmt = data.get("format", {})
    streams = data.get("streams", [])
    # Cover art in MP3/M4A shows up as a video stream; it is not picture content to reframe.
    video = next(
        (s for s in streams if s.get("codec_type") == "video" and not (s.get("disposition") or {}).get("attached_pic")),
        None,
    )
    audio = next((s for s in streams if s.get("codec_type") == "audio"), None)
    durations = [_float(fmt.get("duration"))] + [_float(s.get("duration")) for s in (video, audio) if s]
    duration = max((d for d in durations if d is not None), default=0.0)
    still = video is not None and _is_still(video, str(fmt.get("format_name", "")))
    if still and audio is not None:
        video = None  # a picture beside an audio track (cover art ffprobe did not flag): an audio file
    return MediaInfo(
        duration=duration,
        size=size,
        container=str(fmt.get("format_name") or "unknown"),
        has_video=video is not None,
        still_image=still,
        has_audio=audio is not None,
        width=_int(video.get("width")) if video else None,
        height=_int(video.get("height")) if video else None,
        fps=_fps(video) if video else None,
        video_codec=video.get("codec_name") if video else None,
        audio_codec=audio.get("codec_name") if audio else None,
        audio_sample_rate=_int(audio.get("sample_rate")) if audio else None,
        audio_channels=_int(audio.get("channels")) if audio else None,
        bit_rate=_int(fmt.get("bit_rate")),
    )


def _is_still(video: dict[str, Any], fmt: str) -> bool:
    if fmt in _IMAGE_FORMATS or fmt.endswith("_pipe"):
        return True
    if video.get("codec_name") not in _IMAGE_CODECS:
        return False
    # MJPEG in AVI/MOV is real (old camera) video; one frame or no duration is a picture.
    return _int(video.get("nb_frames")) in (None, 1) and _float(video.get("duration")) in (None, 0.0)


def _unreadable(kind: str) -> IngestRejected:
    """The rejection for a file ffprobe cannot read, by what its first bytes look like."""
    if kind == "bmff":
        return IngestRejected("truncated", f"The video file is incomplete or damaged. {_RETRY_UPLOAD}")
    if kind == "image":
        return IngestRejected(
            "image_not_video", "This is a still image, not a video. Upload a video or audio recording of a talk."
        )
    if kind == "text":
        return IngestRejected(
            "not_media",
            "The file is text, not a video or audio recording (it may have been renamed). "
            "Upload the original media file.",
        )
    return IngestRejected(
        "not_media",
        "The file is not a video or audio format we can read. Upload an MP4, MOV, MKV, WebM, MP3, M4A or WAV file.",
    )


def _read_head(path: Path, n: int = 4096) -> bytes:
    with path.open("rb") as f:
        return f.read(n)


def _sniff(head: bytes) -> str:
    if len(head) >= 8 and head[4:8] in _BMFF_BOXES:
        return "bmff"
    if head.startswith((b"\x89PNG", b"\xff\xd8\xff", b"GIF8", b"BM")) or (
        head[:4] == b"RIFF" and head[8:12] == b"WEBP"
    ):
        return "image"
    try:
        text = head.decode("utf-8")
    except UnicodeDecodeError:
        return "binary"
    printable = sum(ch.isprintable() or ch in "\r\n\t" for ch in text)
    return "text" if text and printable / len(text) > 0.95 else "binary"


def _bmff_truncated(path: Path, size: int) -> bool:
    """Walk MP4/MOV top-level boxes: a box running past the end of the file means it was cut."""
    with path.open("rb") as f:
        head = f.read(8)
        if len(head) < 8 or head[4:8] not in _BMFF_BOXES:
            return False
        pos = 0
        while pos < size:
            f.seek(pos)
            header = f.read(16)
            if len(header) < 8:
                return True
            box_size, box_type = struct.unpack(">I4s", header[:8])
            if box_size == 1:
                if len(header) < 16:
                    return True
                box_size = struct.unpack(">Q", header[8:16])[0]
            elif box_size == 0:  # box extends to end of file
                return False
            if box_size < 8 or not box_type.isascii():
                return False  # not a box structure we understand; let ffprobe judge
            pos += box_size
        return pos > size


def _tail_is_broken(path: Path, duration: float, window: float) -> bool:
    """Decode the last ``window`` seconds; missing data shows as errors or nothing decoded."""
    window = min(window, duration)
    start = max(0.0, duration - window)
    cmd = [FFMPEG, "-hide_banner", "-nostdin", "-v", "error", "-progress", "pipe:1", "-nostats"]
    cmd += ["-ss", f"{start:.3f}", "-i", os.fspath(path), "-t", f"{window:.3f}", "-f", "null", "-"]
    try:
        proc = subprocess.run(cmd, capture_output=True, timeout=120, check=False, **media_tool_options())
    except subprocess.TimeoutExpired:
        return True
    stderr = proc.stderr.decode("utf-8", "replace").lower()
    if proc.returncode != 0 or any(marker in stderr for marker in _TRUNCATION_MARKERS):
        return True
    decoded_us = 0
    for line in proc.stdout.decode("ascii", "replace").splitlines():
        key, _, value = line.partition("=")
        if key == "out_time_us" and value.strip().lstrip("-").isdigit():
            decoded_us = max(decoded_us, int(value))
    # Seeking lands on a keyframe, so allow slack, but an empty tail means the data is not there.
    return decoded_us < min(0.25, window / 4) * 1e6


def _float(value: Any) -> float | None:
    try:
        f = float(value)
    except (TypeError, ValueError):
        return None
    return f if f == f and f >= 0 else None  # drops NaN and negative


def _int(value: Any) -> int | None:
    try:
        return int(value)
    except (TypeError, ValueError):
        return None


def _fps(stream: dict[str, Any]) -> float | None:
    for key in ("avg_frame_rate", "r_frame_rate"):
        raw = stream.get(key)
        try:
            rate = Fraction(str(raw))
        except (ValueError, ZeroDivisionError):
            continue
        if rate > 0:
            return round(float(rate), 3)
    return None


def _human_bytes(n: int) -> str:
    value = float(n)
    for unit in ("B", "KB", "MB", "GB"):
        if value < 1024 or unit == "GB":
            return f"{value:.0f} {unit}" if unit == "B" else f"{value:.1f} {unit}"
        value /= 1024
    return f"{value:.1f} GB"


def _human_duration(seconds: float) -> str:
    s = round(seconds)
    h, rem = divmod(s, 3600)
    m, s = divmod(rem, 60)
    return f"{h}h {m:02d}m {s:02d}s" if h else f"{m}m {s:02d}s"
