"""Transcribe domain core: 16 kHz mono WAV -> timed words -> sentences, behind an ASR engine interface.

Plain synchronous, CPU-bound Python: the job worker runs :func:`transcribe_audio` in a thread or
process, and ``clipforge clip --local`` calls it directly.
"""

from __future__ import annotations

import os
from collections.abc import Callable
from pathlib import Path

from clipforge_common.transcript import Transcript, Word

from clipforge_transcribe.domain.chunking import (
    SAMPLE_RATE,
    AudioChunk,
    AudioFormatError,
    iter_wav_chunks,
    wav_duration,
)
from clipforge_transcribe.domain.engines import (
    AsrEngine,
    AssemblyAiEngine,
    EngineError,
    EngineUnavailable,
    FasterWhisperEngine,
    FileEngine,
    PocketsphinxEngine,
    make_engine,
)
from clipforge_transcribe.domain.segmentation import SENTENCE_OPENERS, SegmentationConfig, segment_sentences

__all__ = [
    "SAMPLE_RATE",
    "SENTENCE_OPENERS",
    "AsrEngine",
    "AssemblyAiEngine",
    "AudioChunk",
    "AudioFormatError",
    "EngineError",
    "EngineUnavailable",
    "FasterWhisperEngine",
    "FileEngine",
    "PocketsphinxEngine",
    "SegmentationConfig",
    "iter_wav_chunks",
    "make_engine",
    "merge_words",
    "segment_sentences",
    "transcribe_audio",
    "wav_duration",
]


def transcribe_audio(
    wav_path: str | os.PathLike[str],
    engine: AsrEngine | FileEngine,
    *,
    on_progress: Callable[[float], None] | None = None,
    chunk_seconds: float = 30.0,
    language: str = "en",
    video_id: str | None = None,
    segmentation: SegmentationConfig | None = None,
) -> Transcript:
    """Transcribe a 16 kHz mono 16-bit WAV into a :class:`Transcript` (words and sentences).

    Engines with ``transcribe_file`` get the whole file; others get pause-aligned chunks of about
    ``chunk_seconds`` (bounded memory). ``on_progress`` receives the fraction 0..1 of audio done.
    Raises ``AudioFormatError`` for a wrong WAV and ``EngineError`` when the engine fails.
    """
    path = Path(wav_path)
    duration = wav_duration(path)
    if isinstance(engine, FileEngine):
        raw = engine.transcribe_file(path, on_progress)
    else:
        raw = []
        for chunk in iter_wav_chunks(path, chunk_seconds=chunk_seconds):
            raw.extend(engine.transcribe_chunk(chunk.samples, chunk.offset))
            if on_progress is not None and duration > 0:
                on_progress(min(1.0, (chunk.offset + chunk.duration) / duration))
    words = merge_words(raw, duration)
    if on_progress is not None:
        on_progress(1.0)
    return Transcript(
        video_id=video_id,
        language=language,
        engine=engine.name,
        engine_version=engine.version,
        duration=round(duration, 3),
        words=words,
        sentences=segment_sentences(words, segmentation),
    )


def merge_words(words: list[Word], duration: float) -> list[Word]:
    """Sort, clamp into [0, duration] and drop words repeated where chunks overlap.

    A word that starts before the previous kept word's midpoint is the same utterance seen twice
    (or an engine glitch), so it is dropped; timings come out monotonic.
    """
    out: list[Word] = []
    for w in sorted(words, key=lambda w: (w.start, w.end)):
        start = min(max(0.0, w.start), duration)
        end = min(max(start, w.end), duration)
        if out:
            prev = out[-1]
            if start < (prev.start + prev.end) / 2:
                continue
            start = max(start, prev.end)
            end = max(end, start)
        out.append(w.model_copy(update={"start": round(start, 3), "end": round(end, 3)}))
    return out
