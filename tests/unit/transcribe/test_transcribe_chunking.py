"""Pause-aligned WAV chunking: lossless, bounded, cut in silence."""

from __future__ import annotations

import wave
from pathlib import Path

import numpy as np
import pytest
from clipforge_transcribe.domain import SAMPLE_RATE, AudioFormatError, iter_wav_chunks, wav_duration


def write_wav(path: Path, samples: np.ndarray, rate: int = SAMPLE_RATE, channels: int = 1) -> Path:
    with wave.open(str(path), "wb") as w:
        w.setnchannels(channels)
        w.setsampwidth(2)
        w.setframerate(rate)
        w.writeframes(samples.astype("<i2").tobytes())
    return path


def bursts(seconds: float, silences: list[tuple[float, float]]) -> np.ndarray:
    """A loud noise signal with digital silence in the given (start, end) windows."""
    rng = np.random.default_rng(0)
    x = (rng.standard_normal(int(seconds * SAMPLE_RATE)) * 4000).astype(np.int16)
    for a, b in silences:
        x[int(a * SAMPLE_RATE) : int(b * SAMPLE_RATE)] = 0
    return x


def test_chunks_reassemble_exactly_and_cut_in_silence(tmp_path: Path) -> None:
    silences = [(7.0, 7.6), (16.2, 16.8), (23.5, 24.1)]
    x = bursts(30.0, silences)
    path = write_wav(tmp_path / "a.wav", x)
    chunks = list(iter_wav_chunks(path, chunk_seconds=10.0, search_seconds=4.0))
    assert np.array_equal(np.concatenate([c.samples for c in chunks]), x)
    assert [c.index for c in chunks] == list(range(len(chunks)))
    offset = 0.0
    for c in chunks:
        assert c.offset == pytest.approx(offset)
        assert c.duration <= 10.0 + 1e-9
        offset += c.duration
    cuts = [c.offset for c in chunks[1:]]
    assert len(cuts) == 3
    for cut, (a, b) in zip(cuts, silences, strict=True):
        assert a < cut < b
        assert cut == pytest.approx((a + b) / 2, abs=0.15)  # the middle of the pause


def test_no_silence_still_cuts_within_target(tmp_path: Path) -> None:
    x = bursts(25.0, [])
    chunks = list(iter_wav_chunks(write_wav(tmp_path / "n.wav", x), chunk_seconds=10.0, search_seconds=2.0))
    assert all(8.0 <= c.duration <= 10.0 for c in chunks[:-1])
    assert np.array_equal(np.concatenate([c.samples for c in chunks]), x)


def test_short_file_is_one_chunk(tmp_path: Path) -> None:
    path = write_wav(tmp_path / "s.wav", bursts(3.0, []))
    chunks = list(iter_wav_chunks(path, chunk_seconds=30.0))
    assert len(chunks) == 1 and chunks[0].offset == 0.0
    assert wav_duration(path) == pytest.approx(3.0)


def test_empty_file_yields_nothing(tmp_path: Path) -> None:
    path = write_wav(tmp_path / "e.wav", np.zeros(0, np.int16))
    assert list(iter_wav_chunks(path)) == []


@pytest.mark.parametrize(("rate", "channels"), [(44100, 1), (16000, 2)])
def test_wrong_format_is_refused(tmp_path: Path, rate: int, channels: int) -> None:
    path = write_wav(tmp_path / "w.wav", np.zeros(rate * channels, np.int16), rate=rate, channels=channels)
    with pytest.raises(AudioFormatError):
        list(iter_wav_chunks(path))


def test_not_a_wav(tmp_path: Path) -> None:
    path = tmp_path / "x.wav"
    path.write_bytes(b"ID3 not a wave file")
    with pytest.raises(AudioFormatError):
        wav_duration(path)


def test_chunk_seconds_validated(tmp_path: Path) -> None:
    path = write_wav(tmp_path / "s.wav", bursts(2.0, []))
    with pytest.raises(ValueError):
        list(iter_wav_chunks(path, chunk_seconds=0.5))
