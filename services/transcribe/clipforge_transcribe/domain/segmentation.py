"""Sentence segmentation of unpunctuated ASR words, from pauses and lexical cues.

Rules, in order: terminal punctuation (engines that punctuate), a long pause, a medium pause
followed by a typical sentence opener (never after a word a sentence cannot end on), and finally splitting over-long sentences at their largest
internal gap. The thresholds are tuned on hibari-tts speech transcribed by pocketsphinx.
"""

from __future__ import annotations

import re
from collections.abc import Sequence
from dataclasses import dataclass

from clipforge_common.transcript import Sentence, Word

__all__ = ["SENTENCE_OPENERS", "WEAK_OPENERS", "SegmentationConfig", "segment_sentences"]

# Discourse markers and question words that usually open a spoken sentence: a medium pause before
# one is likely a boundary.
SENTENCE_OPENERS = frozenset(
    [
        "so",
        "but",
        "now",
        "today",
        "first",
        "second",
        "third",
        "next",
        "then",
        "finally",
        "also",
        "anyway",
        "however",
        "meanwhile",
        "what",
        "why",
        "how",
        "when",
        "where",
        "who",
        "which",
        "imagine",
        "remember",
        "here",
        "let",
        "let's",
        "lets",
        "okay",
        "ok",
        "well",
        "yes",
    ]
)
# Common sentence starts that also follow commas mid-sentence ("in nineteen seventy, the crew"):
# they need a longer pause to count.
WEAK_OPENERS = frozenset(
    [
        "the",
        "this",
        "that",
        "these",
        "those",
        "there",
        "it",
        "its",
        "i",
        "we",
        "you",
        "they",
        "he",
        "she",
        "my",
        "our",
        "your",
        "most",
        "many",
        "some",
        "every",
        "one",
        "if",
        "in",
        "on",
        "at",
        "after",
        "before",
        "once",
        "while",
        "do",
        "does",
        "did",
        "is",
        "are",
        "can",
        "could",
        "would",
        "should",
        "will",
        "have",
        "has",
        "try",
        "start",
        "think",
    ]
)
# A sentence cannot end on these, whatever the pause (speakers hesitate after them).
_NO_END = frozenset(
    [
        "a",
        "an",
        "the",
        "of",
        "to",
        "and",
        "or",
        "but",
        "in",
        "on",
        "at",
        "for",
        "with",
        "from",
        "by",
        "as",
        "into",
        "about",
        "than",
        "that",
        "my",
        "your",
        "our",
        "their",
        "his",
        "her",
        "its",
        "this",
        "these",
        "those",
        "is",
        "are",
        "was",
        "were",
        "be",
        "been",
        "very",
        "so",
        "because",
        "if",
        "when",
    ]
)

_TERMINAL = re.compile(r"[.!?…]['\")\]]*$")


@dataclass(frozen=True)
class SegmentationConfig:
    strong_gap: float = 0.45  # a silence this long always ends a sentence
    opener_gap: float = 0.3  # ...this long ends one when the next word is in SENTENCE_OPENERS
    weak_opener_gap: float = 0.4  # ...this long when the next word is in WEAK_OPENERS
    min_words: int = 3  # never end a sentence (by a weak cue) before this many words
    max_words: int = 40
    max_duration: float = 15.0


def segment_sentences(words: Sequence[Word], config: SegmentationConfig | None = None) -> list[Sentence]:
    """Group ``words`` (time-ordered) into sentences with ``first_word``/``last_word`` indices."""
    cfg = config or SegmentationConfig()
    if not words:
        return []
    spans: list[tuple[int, int]] = []
    start = 0
    for i in range(1, len(words)):
        prev, word = words[i - 1], words[i]
        gap = word.start - prev.end
        length = i - start
        boundary = bool(_TERMINAL.search(prev.word.strip())) or gap >= cfg.strong_gap
        if not boundary and length >= cfg.min_words and _norm(prev.word) not in _NO_END:
            nxt = _norm(word.word)
            boundary = (nxt in SENTENCE_OPENERS and gap >= cfg.opener_gap) or (
                nxt in WEAK_OPENERS and gap >= cfg.weak_opener_gap
            )
        if boundary:
            spans.append((start, i - 1))
            start = i
    spans.append((start, len(words) - 1))

    out: list[Sentence] = []
    for first, last in spans:
        for a, b in _split_long(words, first, last, cfg):
            out.append(
                Sentence(
                    text=" ".join(w.word.strip() for w in words[a : b + 1]).strip(),
                    start=words[a].start,
                    end=words[b].end,
                    first_word=a,
                    last_word=b,
                )
            )
    return out


def _norm(token: str) -> str:
    return token.strip().lower().strip(".,!?;:\"'")


def _is_opener(token: str) -> bool:
    word = _norm(token)
    return word in SENTENCE_OPENERS or word in WEAK_OPENERS


def _split_long(words: Sequence[Word], first: int, last: int, cfg: SegmentationConfig) -> list[tuple[int, int]]:
    n = last - first + 1
    if n <= cfg.max_words and words[last].end - words[first].start <= cfg.max_duration:
        return [(first, last)]
    if n < 2 * cfg.min_words:
        return [(first, last)]
    # Split before the word with the largest preceding gap (openers win ties), keeping both halves
    # at least min_words long; recurse until every piece fits.
    best, best_key = first + cfg.min_words, (-1.0, False)
    for i in range(first + cfg.min_words, last - cfg.min_words + 2):
        key = (round(words[i].start - words[i - 1].end, 2), _is_opener(words[i].word))
        if key > best_key:
            best, best_key = i, key
    return _split_long(words, first, best - 1, cfg) + _split_long(words, best, last, cfg)
