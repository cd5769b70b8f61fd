"""Candidate clips: contiguous runs of whole sentences inside one topic, min..max seconds long."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

from clipforge_common.transcript import Sentence

__all__ = ["Candidate", "generate_candidates", "overlap_ratio"]


@dataclass(frozen=True, slots=True)
class Candidate:
    """Sentences ``first_sentence..last_sentence`` (inclusive); starts/ends on their boundaries."""

    first_sentence: int
    last_sentence: int
    start: float
    end: float
    topic: int = 0

    @property
    def duration(self) -> float:
        return self.end - self.start

    @property
    def sentence_count(self) -> int:
        return self.last_sentence - self.first_sentence + 1


def generate_candidates(
    sentences: Sequence[Sentence],
    topic_ids: Sequence[int] | None = None,
    *,
    min_seconds: float,
    max_seconds: float,
) -> list[Candidate]:
    """Every run of whole sentences lasting ``min_seconds..max_seconds`` that stays in one topic.

    A candidate starts at a sentence's start and ends at a (later or same) sentence's end, so it
    never cuts a sentence. ``topic_ids`` (one per sentence) defaults to a single topic.
    """
    if topic_ids is None:
        topic_ids = [0] * len(sentences)
    if len(topic_ids) != len(sentences):
        raise ValueError("need one topic id per sentence")
    eps = 1e-6
    out: list[Candidate] = []
    for i, first in enumerate(sentences):
        for j in range(i, len(sentences)):
            if topic_ids[j] != topic_ids[i]:
                break
            duration = sentences[j].end - first.start
            if duration > max_seconds + eps:
                break
            if duration >= min_seconds - eps:
                out.append(Candidate(i, j, first.start, sentences[j].end, topic_ids[i]))
    return out


def overlap_ratio(a_start: float, a_end: float, b_start: float, b_end: float) -> float:
    """Overlap of two intervals as a fraction of the shorter one (0 when disjoint)."""
    inter = min(a_end, b_end) - max(a_start, b_start)
    shorter = min(a_end - a_start, b_end - b_start)
    if inter <= 0 or shorter <= 0:
        return 0.0
    return inter / shorter
