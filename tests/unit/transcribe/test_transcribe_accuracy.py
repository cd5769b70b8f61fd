"""End-to-end accuracy of the default engine on a ~60 s hibari-tts talk (the acceptance bar).

WER <= 15 % against the source text, monotonic word timings inside the audio, and sentence
boundaries on the pauses between the source sentences.
"""

from __future__ import annotations

import itertools
import re
import time
from pathlib import Path

import jiwer
import pytest
from clipforge_common.sample_media import SpeechScript
from clipforge_transcribe.domain import PocketsphinxEngine, transcribe_audio


def normalise(text: str) -> str:
    """Lowercase, hyphens as spaces, no punctuation (the script spells numbers as words)."""
    return " ".join(re.sub(r"[^a-z' ]+", " ", text.lower().replace("-", " ")).split())


@pytest.mark.slow
def test_pocketsphinx_60s_talk_wer_timings_and_sentences(talk_60s: tuple[Path, SpeechScript]) -> None:
    wav, script = talk_60s
    assert 50 <= script.duration <= 75

    progress: list[float] = []
    began = time.perf_counter()
    transcript = transcribe_audio(wav, PocketsphinxEngine(), on_progress=progress.append, chunk_seconds=30.0)
    elapsed = time.perf_counter() - began

    wer = jiwer.wer(normalise(script.text), normalise(" ".join(w.word for w in transcript.words)))
    print(
        f"\n60 s talk: WER {wer:.3f}, {len(transcript.words)} words, {elapsed:.1f} s to transcribe {script.duration:.1f} s"
    )
    assert wer <= 0.15

    words = transcript.words
    assert words[0].start >= 0 and words[-1].end <= transcript.duration
    assert all(w.start <= w.end for w in words)
    assert all(a.end <= b.start for a, b in itertools.pairwise(words))
    assert progress[-1] == 1.0 and progress == sorted(progress)

    # Every spoken word lies inside some source sentence (give or take the decoder's frame jitter).
    spans = [(s.start - 0.3, s.end + 0.3) for s in script.sentences]
    assert all(any(a <= (w.start + w.end) / 2 <= b for a, b in spans) for w in words)

    pauses = [(end + start) / 2 for end, start in script.pauses()]
    found = [(a.end + b.start) / 2 for a, b in zip(transcript.sentences, transcript.sentences[1:], strict=False)]
    hits = sum(any(abs(p - f) <= 0.5 for f in found) for p in pauses)
    false_breaks = [f for f in found if not any(abs(p - f) <= 0.5 for p in pauses)]
    assert hits >= 0.9 * len(pauses), (hits, len(pauses))
    assert len(false_breaks) <= 1, false_breaks
    # Sentence starts line up with the source sentence starts.
    starts = [s.start for s in transcript.sentences]
    close = sum(any(abs(s.start - t) <= 0.5 for t in starts) for s in script.sentences)
    assert close >= 0.9 * len(script.sentences)
