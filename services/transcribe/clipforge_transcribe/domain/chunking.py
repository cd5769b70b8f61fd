"""Read a 16 kHz mono WAV in chunks with bounded memory, cutting at the quietest moment.

Cutting inside a pause (not at a fixed sample) means no word is split between chunks, so chunks need
no overlap and no word can be transcribed twice.
"""

from __future__ import annotations

import os
import wave
from collections.abc import Iterator
from dataclasses import dataclass

import numpy as np

__all__ = ["SAMPLE_RATE", "AudioChunk", "AudioFormatError", "iter_wav_chunks", "wav_duration"]

SAMPLE_RATE = 16_000
_FRAME = SAMPLE_RATE // 100  # 10 ms energy frames
# The quietest 200 ms stretch marks the cut; shorter windows catch stop consonants inside words.
_QUIET_FRAMES = 20


class AudioFormatError(ValueError):
    """The WAV is not 16 kHz mono 16-bit PCM (run the ingest audio extraction first)."""


@dataclass(frozen=True)
class AudioChunk:
    index: int
    offset: float  # seconds from the start of the file
    samples: np.ndarray  # int16, mono, SAMPLE_RATE

    @property
    def duration(self) -> float:
        return len(self.samples) / SAMPLE_RATE


def _open(path: str | os.PathLike[str]) -> wave.Wave_read:
    try:
        w = wave.open(os.fspath(path), "rb")  # noqa: SIM115 - returned open; callers use it as a context manager
    except (wave.Error, EOFError) as exc:
        raise AudioFormatError(f"{path}: not a PCM WAV file ({exc})") from exc
    if (w.getnchannels(), w.getsampwidth(), w.getframerate()) != (1, 2, SAMPLE_RATE):
        fmt = f"{w.getnchannels()} ch, {8 * w.getsampwidth()} bit, {w.getframerate()} Hz"
        w.close()
        raise AudioFormatError(f"{path}: expected 16 kHz mono 16-bit PCM, got {fmt}")
    return w


def wav_duration(path: str | os.PathLike[str]) -> float:
    """Seconds of audio in a 16 kHz mono WAV."""
    with _open(path) as w:
        return w.getnframes() / SAMPLE_RATE


def iter_wav_chunks(
    path: str | os.PathLike[str],
    *,
    chunk_seconds: float = 30.0,
    search_seconds: float = 6.0,
) -> Iterator[AudioChunk]:
    """Yield consecutive, non-overlapping chunks of about ``chunk_seconds``.

    Each cut is placed at the quietest 200 ms in the last ``search_seconds`` before the target
    length. At most ``chunk_seconds`` of samples are held in memory.
    """
    if chunk_seconds <= 1:
        raise ValueError("chunk_seconds must be more than 1 s")
    target = int(chunk_seconds * SAMPLE_RATE)
    search = min(int(search_seconds * SAMPLE_RATE), target // 2)
    with _open(path) as w:
        carry = np.zeros(0, np.int16)
        offset = 0
        index = 0
        while True:
            need = target - len(carry)
            raw = w.readframes(need) if need > 0 else b""
            buf = np.concatenate([carry, np.frombuffer(raw, dtype="<i2").astype(np.int16)])
            if len(buf) < target:  # end of file
                if len(buf):
                    yield AudioChunk(index, offset / SAMPLE_RATE, buf)
                return
            cut = _quietest_cut(buf, target - search, target)
            yield AudioChunk(index, offset / SAMPLE_RATE, buf[:cut])
            carry = buf[cut:].copy()
            offset += cut
            index += 1


def _quietest_cut(buf: np.ndarray, lo: int, hi: int) -> int:
    """Sample index in [lo, hi] at the middle of the lowest-energy window."""
    region = buf[lo:hi].astype(np.float32)
    n = len(region) // _FRAME
    if n < _QUIET_FRAMES:
        return hi
    energy = np.square(region[: n * _FRAME].reshape(n, _FRAME)).mean(axis=1)
    window = np.convolve(energy, np.ones(_QUIET_FRAMES) / _QUIET_FRAMES, mode="valid")
    # Cut in the middle of the quiet stretch around the minimum, so both chunks keep some silence
    # at their edges (the decoder needs it) and a long pause is not cut right before a word.
    # "Quiet" is relative to this region's typical level, so steady noise (no real pause) yields a
    # narrow stretch at the quietest point rather than the whole search region.
    best = int(np.argmin(window))
    limit = window[best] + 0.1 * (float(np.median(window)) - window[best]) + 1.0
    left = best
    while left > 0 and window[left - 1] <= limit:
        left -= 1
    right = best
    while right + 1 < len(window) and window[right + 1] <= limit:
        right += 1
    return lo + ((left + right) // 2 + _QUIET_FRAMES // 2) * _FRAME
