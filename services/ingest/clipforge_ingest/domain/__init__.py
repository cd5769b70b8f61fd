"""Ingest domain core: probe and validate media, hash it, extract 16 kHz mono audio, guard URL imports.

Plain synchronous Python (ffmpeg runs as a subprocess): the Kafka/S3 adapter runs it off the event
loop, and ``clipforge clip --local`` calls :func:`ingest_file` directly.
"""

from __future__ import annotations

import os
from collections.abc import Callable
from pathlib import Path

from pydantic import BaseModel

from clipforge_ingest.domain.audio import ASR_SAMPLE_RATE, extract_audio
from clipforge_ingest.domain.hashing import sha256_file
from clipforge_ingest.domain.probe import (
    REASON_CODES,
    IngestLimits,
    IngestRejected,
    MediaInfo,
    probe_media,
    validate_media,
)
from clipforge_ingest.domain.url_guard import (
    DownloadResult,
    ResolvedMedia,
    Resolver,
    UrlRefused,
    check_url,
    download_with_ytdlp,
    forbidden_reason,
    resolve_with_ytdlp,
    safe_download,
    system_resolver,
)

__all__ = [
    "ASR_SAMPLE_RATE",
    "REASON_CODES",
    "DownloadResult",
    "IngestLimits",
    "IngestRejected",
    "IngestResult",
    "MediaInfo",
    "ResolvedMedia",
    "Resolver",
    "UrlRefused",
    "check_url",
    "download_with_ytdlp",
    "extract_audio",
    "forbidden_reason",
    "ingest_file",
    "probe_media",
    "resolve_with_ytdlp",
    "safe_download",
    "sha256_file",
    "system_resolver",
    "validate_media",
]

# Share of the progress bar per step, roughly by how long each takes on a typical upload.
_PROBE_END = 0.05
_HASH_END = 0.25


class IngestResult(BaseModel):
    media: MediaInfo
    sha256: str
    audio_path: Path
    source_path: Path


def ingest_file(
    path: str | os.PathLike[str],
    work_dir: str | os.PathLike[str],
    limits: IngestLimits | None = None,
    on_progress: Callable[[float], None] | None = None,
    *,
    audio_name: str = "audio.wav",
) -> IngestResult:
    """Validate ``path``, hash it and extract ``work_dir/audio_name`` (16 kHz mono s16 WAV).

    Raises :class:`IngestRejected` for media the user must fix, ``MediaToolError`` when ffmpeg
    fails on media that probed fine (an infrastructure fault worth retrying).
    ``on_progress`` receives the overall fraction 0..1.
    """

    def report(lo: float, hi: float) -> Callable[[float], None] | None:
        if on_progress is None:
            return None
        return lambda f: on_progress(lo + (hi - lo) * f)

    source = Path(path)
    media = probe_media(source, limits)
    if on_progress is not None:
        on_progress(_PROBE_END)
    digest = sha256_file(source, on_progress=report(_PROBE_END, _HASH_END))
    audio = extract_audio(
        source, Path(work_dir) / audio_name, duration=media.duration, on_progress=report(_HASH_END, 1.0)
    )
    if on_progress is not None:
        on_progress(1.0)
    return IngestResult(media=media, sha256=digest, audio_path=audio, source_path=source)
