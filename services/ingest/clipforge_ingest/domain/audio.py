"""Extract the speech track as the 16 kHz mono 16-bit WAV every ASR engine reads."""

from __future__ import annotations

import os
from collections.abc import Callable
from pathlib import Path

from clipforge_common.ffmpeg import ffprobe, run_ffmpeg

__all__ = ["ASR_SAMPLE_RATE", "extract_audio"]

ASR_SAMPLE_RATE = 16_000


def extract_audio(
    src: str | os.PathLike[str],
    out_wav: str | os.PathLike[str],
    *,
    on_progress: Callable[[float], None] | None = None,
    duration: float | None = None,
    sample_rate: int = ASR_SAMPLE_RATE,
    timeout: float | None = None,
) -> Path:
    """Write the first audio stream of ``src`` to ``out_wav`` as mono s16 PCM at ``sample_rate``.

    ``duration`` (seconds, probed when omitted) lets ``on_progress`` report a fraction. The output
    appears atomically: a failed run leaves no partial WAV behind. Raises ``MediaToolError``.
    """
    out = Path(out_wav)
    out.parent.mkdir(parents=True, exist_ok=True)
    if duration is None and on_progress is not None:
        raw = ffprobe(src).get("format", {}).get("duration")
        duration = float(raw) if raw not in (None, "N/A") else None
    tmp = out.with_name(f".{out.name}.part.wav")
    args = ["-i", os.fspath(src), "-map", "0:a:0", "-vn", "-sn", "-dn"]
    args += ["-ac", "1", "-ar", str(sample_rate), "-c:a", "pcm_s16le", "-f", "wav", str(tmp)]
    try:
        run_ffmpeg(args, duration=duration, on_progress=on_progress, timeout=timeout)
        os.replace(tmp, out)
    finally:
        tmp.unlink(missing_ok=True)
    return out
