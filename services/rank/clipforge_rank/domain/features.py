"""Per-candidate feature vector; every feature lies in 0..1 and higher is better.

Text features are cheap heuristics on the opening and closing sentences; coherence uses the same
sentence vectors as topic segmentation; delivery features use word timings and, when the 16 kHz
mono WAV is available, an RMS loudness envelope read in bounded memory with the ``wave`` module.

Per-sentence work is done once in :class:`FeatureExtractor` so scoring thousands of overlapping
candidates stays linear-ish in the transcript length.
"""

from __future__ import annotations

import functools
import math
import re
import wave
from collections.abc import Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np
from clipforge_common.transcript import Transcript
from numpy.typing import NDArray
from scipy import sparse

from .candidates import Candidate
from .config import FEATURE_NAMES, RankerConfig

__all__ = [
    "FEATURE_NAMES",
    "AudioEnvelope",
    "CandidateFeatures",
    "FeatureExtractor",
    "coherence_from_vectors",
    "duration_fit",
    "ending_completeness",
    "hook_strength",
    "loudness_dynamics",
    "self_containedness",
    "sentiment_intensity",
    "speech_rate_score",
    "tokens",
]

NEUTRAL = 0.5

_TOKEN_RE = re.compile(r"[a-z0-9%]+(?:'[a-z]+)?")


def tokens(text: str) -> list[str]:
    """Lower-case word tokens; curly apostrophes normalised so "don’t" == "don't"."""
    return _TOKEN_RE.findall(text.lower().replace("\u2019", "'"))


# --------------------------------------------------------------------------- text cues

_FILLERS = frozenset({"um", "uh", "erm", "uhm", "hmm", "yeah", "okay", "ok", "well", "like", "right", "now"})
_QUESTION_OPENERS = frozenset(
    {"what", "what's", "why", "how", "who", "when", "where", "which", "do", "does", "did", "is", "are",
     "can", "could", "would", "should", "have", "has", "ever", "isn't", "aren't", "don't", "doesn't"}
)  # fmt: skip
_NUMBER_WORDS = frozenset(
    {"two", "three", "four", "five", "six", "seven", "eight", "nine", "ten", "eleven", "twelve",
     "fifteen", "twenty", "thirty", "fifty", "hundred", "hundreds", "thousand", "thousands", "million",
     "millions", "billion", "billions", "percent", "%", "half", "double", "twice", "triple", "dozen"}
)  # fmt: skip
_SURPRISE_WORDS = frozenset(
    {"surprising", "surprisingly", "surprised", "shocking", "shocked", "secret", "secrets", "actually",
     "nobody", "mistake", "mistakes", "wrong", "truth", "myth", "myths", "lie", "lies", "crazy",
     "insane", "unbelievable", "incredible", "weird", "strange", "hidden", "imagine", "stop",
     "warning", "discovered", "realized", "realised", "turns", "counterintuitive", "nobody's",
     "forget", "wait"}
)  # fmt: skip
_CLAIM_WORDS = frozenset(
    {"best", "worst", "most", "least", "biggest", "greatest", "only", "always", "never", "everyone",
     "everybody", "everything", "must", "key", "important", "critical", "essential", "guaranteed",
     "fastest", "easiest", "hardest", "simplest", "largest", "smallest", "cheapest", "highest",
     "lowest", "strongest", "ultimate", "perfect", "massive", "huge", "changed", "revolutionary"}
)  # fmt: skip
_YOU_WORDS = frozenset({"you", "your", "you're", "yourself", "you've", "you'll", "you'd", "yours"})

# Openers that point back to something the viewer of a clip has not heard.
_DANGLING_PHRASES: tuple[tuple[str, ...], ...] = (
    ("that's", "why"), ("that", "is", "why"), ("which", "is", "why"), ("and", "so"), ("as", "i", "said"),
    ("like", "i", "said"), ("as", "i", "mentioned"), ("on", "the", "other", "hand"), ("in", "other", "words"),
    ("as", "a", "result"), ("because", "of", "that"), ("other", "than", "that"), ("that", "said"),
    ("even", "so"), ("after", "that"), ("apart", "from", "that"),
)  # fmt: skip
_CONJUNCTION_OPENERS = frozenset(
    {"and", "but", "so", "or", "because", "which", "then", "also", "plus", "though", "although",
     "however", "therefore", "thus", "hence", "nor", "whereas", "cause", "'cause"}
)  # fmt: skip
_PRONOUN_OPENERS = frozenset(
    {"he", "she", "they", "it", "this", "that", "these", "those", "him", "her", "them", "his", "their",
     "its", "it's", "he's", "she's", "they're", "that's", "there's"}
)  # fmt: skip
_SEQUENCE_OPENERS = frozenset({"another", "second", "secondly", "third", "thirdly", "next", "finally", "lastly"})
_TRAILING_WORDS = frozenset(
    {"and", "but", "so", "or", "because", "which", "that", "then", "the", "a", "an", "to", "of", "with",
     "um", "uh", "like", "if", "when", "for", "my", "our", "your"}
)  # fmt: skip
_CONTINUATION_OPENERS = frozenset({"and", "but", "so", "because", "which", "or", "then", "cause"})


def _strip_fillers(toks: list[str]) -> tuple[list[str], bool]:
    i = 0
    while i < len(toks) and toks[i] in _FILLERS and i < 3:
        i += 1
    return toks[i:], i > 0


def hook_strength(text: str) -> tuple[float, list[str]]:
    """How strongly a sentence grabs attention as a clip's first line, and which cues it uses.

    Cues: ``question``, ``number``, ``surprise``, ``claim`` (strong claim / superlative), ``you``.
    """
    toks, _ = _strip_fillers(tokens(text))
    if not toks:
        return 0.0, []
    cues: list[str] = []
    stripped = text.strip()
    if stripped.endswith("?") or (toks[0] in _QUESTION_OPENERS and not stripped.endswith(".")):
        cues.append("question")
    if any(t.isdigit() or t.rstrip("%").isdigit() or t in _NUMBER_WORDS for t in toks):
        cues.append("number")
    joined = " ".join(toks)
    if any(t in _SURPRISE_WORDS for t in toks) or "what if" in joined or "turns out" in joined:
        cues.append("surprise")
    if any(t in _CLAIM_WORDS for t in toks) or "number one" in joined or "the one thing" in joined:
        cues.append("claim")
    if any(t in _YOU_WORDS for t in toks):
        cues.append("you")
    gains = {"question": 0.35, "number": 0.2, "surprise": 0.25, "claim": 0.2, "you": 0.15}
    score = 0.15 + sum(gains[c] for c in cues)
    # A hook has to land fast: very long or very short openers lose some of their pull.
    if len(toks) > 30:
        score *= 0.75
    elif len(toks) < 3:
        score *= 0.7
    return min(1.0, score), cues


def self_containedness(text: str) -> float:
    """1.0 for an opener that stands alone; low when it leans on what came before."""
    raw = tokens(text)
    toks, had_filler = _strip_fillers(raw)
    if not toks:
        return 0.3
    for phrase in _DANGLING_PHRASES:
        if tuple(toks[: len(phrase)]) == phrase:
            return 0.1
    first = toks[0]
    if first in _CONJUNCTION_OPENERS:
        score = 0.2
    elif first in _PRONOUN_OPENERS and not (first == "it's" and len(toks) > 1 and toks[1] in {"not", "time"}):
        score = 0.4
    elif first in _SEQUENCE_OPENERS:
        score = 0.5
    else:
        score = 1.0
    return score * (0.9 if had_filler else 1.0)


def ending_completeness(
    last_text: str,
    *,
    next_text: str | None = None,
    gap_after: float | None = None,
    punctuated: bool = True,
) -> float:
    """Whether a clip ending on ``last_text`` feels finished.

    Penalises a trailing conjunction or article, a missing full stop (only when the transcript uses
    punctuation at all — plain ASR output has none), a very short final sentence, a next sentence
    that obviously continues the thought, and no pause after the last word.
    """
    toks = tokens(last_text)
    if not toks:
        return 0.0
    score = 1.0
    if toks[-1] in _TRAILING_WORDS:
        score *= 0.3
    stripped = last_text.rstrip().rstrip("\"')]")
    if punctuated and not stripped.endswith((".", "!", "?", "…")):
        score *= 0.5
    if stripped.endswith("?"):
        score *= 0.8  # a question left hanging is a cliffhanger, not an ending
    if len(toks) < 4:
        score *= 0.6
    if next_text is not None:
        nxt = tokens(next_text)
        if nxt and nxt[0] in _CONTINUATION_OPENERS:
            score *= 0.7
    if gap_after is not None:
        score *= 0.85 + 0.15 * min(1.0, max(0.0, gap_after) / 0.6)
    return max(0.0, min(1.0, score))


def sentiment_intensity(compounds: Sequence[float]) -> float:
    """Mean absolute VADER compound score of the sentences (0 neutral .. 1 intense)."""
    if not compounds:
        return 0.0
    return float(np.mean(np.abs(np.asarray(compounds, dtype=np.float64))))


def duration_fit(duration: float, target: float, tolerance: float) -> float:
    """Log-normal bump around ``target`` seconds: 1 at the target, ~0.5 at 1.7x or 0.6x of it."""
    if duration <= 0:
        return 0.0
    z = math.log(duration / target) / tolerance
    return float(math.exp(-0.5 * z * z))


def coherence_from_vectors(rows: NDArray[np.floating[Any]]) -> float:
    """How closely the sentences cluster around their centroid (0 unrelated .. 1 identical).

    For unit rows the mean cosine to the centroid is ``|sum| / n``, which also rises as n falls; the
    length-free form of the same quantity is the mean pairwise cosine ``(|sum|^2 - n) / (n(n-1))``.
    Its square root is returned because TF-IDF similarities of related sentences are small (0.05..0.3)
    and the root spreads them over the scale. Fewer than two content sentences give neutral 0.5.
    """
    rows = np.asarray(rows, dtype=np.float64)
    norms = np.linalg.norm(rows, axis=1) if rows.size else np.zeros(0)
    keep = norms > 0
    n = int(keep.sum())
    if n < 2:
        return NEUTRAL
    unit = rows[keep] / norms[keep, None]
    return _coherence(float(np.linalg.norm(unit.sum(axis=0)) ** 2), n)


def _coherence(sum_sq: float, n: int) -> float:
    if n < 2:
        return NEUTRAL
    mean_pairwise = (sum_sq - n) / (n * (n - 1))
    return float(math.sqrt(min(1.0, max(0.0, mean_pairwise))))


# Words per second that sound natural in a short clip: brisk but followable.
_PACE_GOOD = (2.3, 3.6)
_PACE_ZERO = (1.0, 5.5)


def speech_rate_score(sentence_wps: Sequence[float], total_words: int, speaking_seconds: float) -> float:
    """Pace near a lively conversational rate, plus some variation between sentences."""
    if total_words == 0 or speaking_seconds <= 0:
        return 0.0
    pace = total_words / speaking_seconds
    lo, hi = _PACE_GOOD
    zlo, zhi = _PACE_ZERO
    if lo <= pace <= hi:
        pace_score = 1.0
    elif pace < lo:
        pace_score = max(0.0, (pace - zlo) / (lo - zlo))
    else:
        pace_score = max(0.0, (zhi - pace) / (zhi - hi))
    rates = np.asarray(sentence_wps, dtype=np.float64)
    variation = float(min(1.0, rates.std() / rates.mean() / 0.25)) if len(rates) >= 2 and rates.mean() else 0.0
    return 0.7 * pace_score + 0.3 * variation


# --------------------------------------------------------------------------- audio


@dataclass(frozen=True)
class AudioEnvelope:
    """RMS loudness (linear, full scale = 1) of consecutive ``hop``-second frames from ``start``."""

    start: float
    hop: float
    rms: NDArray[np.float32]

    @classmethod
    def from_wav(
        cls,
        path: str | Path,
        start: float = 0.0,
        end: float | None = None,
        *,
        hop: float = 0.05,
        chunk_seconds: float = 10.0,
    ) -> AudioEnvelope:
        """Read only frames ``start..end`` of a PCM WAV, ``chunk_seconds`` at a time (bounded memory).

        Any channel count and 8/16/24/32-bit samples are accepted (channels are averaged), although
        ingest always provides 16 kHz mono 16-bit.
        """
        with wave.open(str(path), "rb") as wf:
            rate = wf.getframerate()
            width = wf.getsampwidth()
            channels = wf.getnchannels()
            total = wf.getnframes()
            first = min(total, max(0, round(start * rate)))
            last = total if end is None else min(total, max(first, round(end * rate)))
            hop_frames = max(1, round(hop * rate))
            # Chunks hold a whole number of hops so no frame straddles two reads.
            chunk_frames = max(hop_frames, int(chunk_seconds * rate) // hop_frames * hop_frames)
            wf.setpos(first)
            out: list[NDArray[np.float32]] = []
            remaining = last - first
            while remaining > 0:
                raw = wf.readframes(min(chunk_frames, remaining))
                if not raw:
                    break
                samples = _pcm_to_float(raw, width, channels)
                remaining -= len(samples)
                usable = len(samples) // hop_frames * hop_frames
                if usable:
                    frames = samples[:usable].reshape(-1, hop_frames)
                    out.append(np.sqrt(np.mean(frames * frames, axis=1)).astype(np.float32))
                if usable < len(samples):  # only at the very end of the range
                    tail = samples[usable:]
                    out.append(np.array([np.sqrt(np.mean(tail * tail))], dtype=np.float32))
            rms = np.concatenate(out) if out else np.zeros(0, dtype=np.float32)
        return cls(start=first / rate, hop=hop_frames / rate, rms=rms)

    def slice(self, start: float, end: float) -> NDArray[np.float32]:
        lo = max(0, math.floor((start - self.start) / self.hop))
        hi = max(lo, math.ceil((end - self.start) / self.hop))
        return self.rms[lo:hi]


def _pcm_to_float(raw: bytes, width: int, channels: int) -> NDArray[np.float32]:
    if width == 1:
        data = (np.frombuffer(raw, dtype=np.uint8).astype(np.float32) - 128.0) / 128.0
    elif width == 2:
        data = np.frombuffer(raw, dtype="<i2").astype(np.float32) / 32768.0
    elif width == 3:
        b = np.frombuffer(raw, dtype=np.uint8).reshape(-1, 3).astype(np.int32)
        ints = b[:, 0] | (b[:, 1] << 8) | (b[:, 2] << 16)
        ints = np.where(ints & 0x800000, ints - 0x1000000, ints)
        data = ints.astype(np.float32) / 8388608.0
    elif width == 4:
        data = np.frombuffer(raw, dtype="<i4").astype(np.float32) / 2147483648.0
    else:
        raise wave.Error(f"unsupported sample width {width}")
    if channels > 1:
        data = data[: len(data) // channels * channels].reshape(-1, channels).mean(axis=1)
    return data


def loudness_dynamics(rms: NDArray[np.floating[Any]], hop: float = 0.05) -> float:
    """Phrase-level loudness variation of the voiced part, discounted for long dead air.

    Flat, monotone delivery scores low; expressive delivery (a few dB of swing between phrases)
    scores high. Silence scores 0.
    """
    if len(rms) == 0:
        return NEUTRAL
    db = 20.0 * np.log10(np.asarray(rms, dtype=np.float64) + 1e-10)
    peak = float(np.percentile(db, 95))
    if peak < -55.0:
        return 0.0
    voiced = db > max(peak - 30.0, -55.0)
    if voiced.sum() < max(3, int(0.5 / hop)):
        return 0.0
    # ~250 ms moving average: syllable flicker is not "dynamics", phrase emphasis is.
    win = max(1, round(0.25 / hop))
    smooth = np.convolve(db, np.ones(win) / win, mode="same")[voiced]
    expressiveness = min(1.0, max(0.0, (float(smooth.std()) - 1.5) / 6.0))
    silent_fraction = 1.0 - float(voiced.mean())
    dead_air = min(1.0, max(0.0, (silent_fraction - 0.35) / 0.5))
    return expressiveness * (1.0 - 0.6 * dead_air)


# --------------------------------------------------------------------------- extractor


@dataclass(frozen=True)
class CandidateFeatures:
    """The feature vector of one candidate plus the cues that explain it."""

    values: dict[str, float]
    hook_cues: list[str] = field(default_factory=list)


@functools.lru_cache(maxsize=1)
def _vader() -> Any:
    from vaderSentiment.vaderSentiment import SentimentIntensityAnalyzer

    return SentimentIntensityAnalyzer()


class FeatureExtractor:
    """Computes :class:`CandidateFeatures` for candidates of one transcript.

    ``matrix`` is the sentence matrix used for topics (rows L2-normalised); ``envelope`` is optional
    and, when missing, loudness dynamics is neutral (0.5); ``max_span`` is the most sentences any
    candidate will hold.
    """

    def __init__(
        self,
        transcript: Transcript,
        matrix: Any,
        config: RankerConfig,
        *,
        envelope: AudioEnvelope | None = None,
        max_span: int | None = None,
    ) -> None:
        self.transcript = transcript
        self.config = config
        self.envelope = envelope
        sents = transcript.sentences
        n = len(sents)
        texts = [s.text for s in sents]
        self.punctuated = any(t.rstrip().endswith((".", "!", "?")) for t in texts)

        # Per-sentence prefix sums: candidate aggregates become O(1) lookups.
        words = transcript.words
        counts = np.zeros(n)
        spans = np.zeros(n)
        wps = np.zeros(n)
        eligible = np.zeros(n)
        for k, s in enumerate(sents):
            ws = words[s.first_word : s.last_word + 1] if s.last_word < len(words) else []
            count = len(ws) if ws else len(tokens(s.text))
            span = (ws[-1].end - ws[0].start) if ws else (s.end - s.start)
            counts[k] = count
            spans[k] = max(span, 0.0)
            if count >= 3 and span > 0:
                wps[k] = count / span
                eligible[k] = 1.0
        self._counts = _prefix(counts)
        self._spans = _prefix(spans)
        self._wps = wps
        self._eligible = eligible
        analyzer = _vader()
        sentiment = np.array([abs(analyzer.polarity_scores(t)["compound"]) for t in texts])
        self._sentiment = _prefix(sentiment)

        self._hooks = [hook_strength(t) for t in texts]
        self._contained = [self_containedness(t) for t in texts]
        self._endings = [
            ending_completeness(
                texts[k],
                next_text=texts[k + 1] if k + 1 < n else None,
                gap_after=(sents[k + 1].start - sents[k].end) if k + 1 < n else None,
                punctuated=self.punctuated,
            )
            for k in range(n)
        ]
        # Only similarities within the longest candidate are needed; None means "any run of sentences"
        # (fine for short transcripts, O(n^2) memory for long ones, so rank_transcript passes it).
        self._band = _banded_gram(matrix, max(1, n if max_span is None else max_span))
        self._nonzero = _prefix((self._band[:, 0] > 1e-9).astype(np.float64)) if n else np.zeros(1)
        self._coherence_cache: dict[int, NDArray[np.float64]] = {}

    def extract(self, cand: Candidate) -> CandidateFeatures:
        i, j = cand.first_sentence, cand.last_sentence
        hook, cues = self._hooks[i]
        values = {
            "hook": hook,
            "self_contained": self._contained[i],
            "complete_ending": self._endings[j],
            "coherence": self._coherence(i, j),
            "loudness_dynamics": self._loudness(cand),
            "speech_rate": self._speech_rate(i, j),
            "sentiment": float((self._sentiment[j + 1] - self._sentiment[i]) / (j - i + 1)),
            "duration_fit": duration_fit(cand.duration, self.config.target_seconds, self.config.duration_tolerance),
        }
        values = {k: round(float(min(1.0, max(0.0, values[k]))), 4) for k in FEATURE_NAMES}
        return CandidateFeatures(values=values, hook_cues=list(cues))

    def _loudness(self, cand: Candidate) -> float:
        if self.envelope is None:
            return NEUTRAL
        return loudness_dynamics(self.envelope.slice(cand.start, cand.end), self.envelope.hop)

    def _speech_rate(self, i: int, j: int) -> float:
        total = int(self._counts[j + 1] - self._counts[i])
        seconds = float(self._spans[j + 1] - self._spans[i])
        rates = self._wps[i : j + 1][self._eligible[i : j + 1] > 0]
        return speech_rate_score(rates.tolist(), total, seconds)

    def _coherence(self, i: int, j: int) -> float:
        n = int(self._nonzero[j + 1] - self._nonzero[i])
        if n < 2:
            return NEUTRAL
        length = j - i + 1
        if length > self._band.shape[1]:
            raise ValueError("candidate longer than the extractor's max_span")
        sums = self._coherence_cache.get(i)
        if sums is None:
            sums = self._sum_squares_from(i)
            self._coherence_cache[i] = sums
        return _coherence(float(sums[length - 1]), n)

    def _sum_squares_from(self, i: int) -> NDArray[np.float64]:
        """|sum of rows i..i+L-1|^2 for every L up to the band width, via 2-D prefix sums."""
        width = min(self._band.shape[1], self._band.shape[0] - i)
        # gram[p, q] = row(i+p) . row(i+q), read off the band.
        gram = np.zeros((width, width))
        for p in range(width):
            gram[p, p:] = self._band[i + p, : width - p]
        gram = gram + np.triu(gram, 1).T
        cum = gram.cumsum(axis=0).cumsum(axis=1)
        return np.diagonal(cum).copy()


def _prefix(values: NDArray[np.float64]) -> NDArray[np.float64]:
    out = np.zeros(len(values) + 1)
    np.cumsum(values, out=out[1:])
    return out


def _banded_gram(matrix: Any, width: int, chunk: int = 512) -> NDArray[np.float64]:
    """band[a, k] = row(a) . row(a + k) for k < width, in row chunks so memory stays bounded."""
    n = matrix.shape[0]
    band = np.zeros((n, width))
    for a0 in range(0, n, chunk):
        a1 = min(n, a0 + chunk)
        b1 = min(n, a1 + width - 1)
        block = matrix[a0:a1] @ matrix[a0:b1].T
        block = block.toarray() if sparse.issparse(block) else np.asarray(block)
        for a in range(a0, a1):
            k = min(width, b1 - a)
            band[a, :k] = block[a - a0, a - a0 : a - a0 + k]
    return band
