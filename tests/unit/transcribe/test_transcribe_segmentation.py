"""Sentence segmentation from pauses and lexical cues."""

from __future__ import annotations

import itertools

import pytest
from clipforge_common.transcript import Word
from clipforge_transcribe.domain import SegmentationConfig, merge_words, segment_sentences


def words_from(spec: str) -> list[Word]:
    """'a b | c' style: words 0.3 s long, 0.05 s apart; '|n' inserts an n-second pause (default 0.7)."""
    out: list[Word] = []
    t = 0.0
    for token in spec.split():
        if token.startswith("|"):
            t += float(token[1:] or 0.7) - 0.05
            continue
        out.append(Word(word=token, start=round(t, 3), end=round(t + 0.3, 3)))
        t += 0.35
    return out


def texts(spec: str, config: SegmentationConfig | None = None) -> list[str]:
    return [s.text for s in segment_sentences(words_from(spec), config)]


def test_long_pauses_split_sentences() -> None:
    assert texts("have you ever wondered why |0.7 the answer is water") == [
        "have you ever wondered why",
        "the answer is water",
    ]


def test_short_pause_alone_does_not_split() -> None:
    assert texts("most baristas brew |0.3 around ninety degrees") == ["most baristas brew around ninety degrees"]


def test_medium_pause_before_discourse_opener_splits() -> None:
    assert texts("that is the whole trick |0.32 so try it tomorrow") == [
        "that is the whole trick",
        "so try it tomorrow",
    ]


def test_weak_opener_needs_a_longer_pause() -> None:
    # "in nineteen seventy, the crew" - a comma pause before "the" is not a sentence end...
    assert len(texts("in nineteen seventy |0.33 the crew survived")) == 1
    # ...but a clear pause is.
    assert len(texts("we won the game |0.42 the crowd cheered")) == 2


def test_no_split_after_words_a_sentence_cannot_end_on() -> None:
    assert len(texts("we walked to the |0.35 so called park")) == 1


def test_opener_split_needs_minimum_length() -> None:
    assert len(texts("yes |0.35 so it works")) == 1


def test_terminal_punctuation_from_punctuating_engines() -> None:
    assert texts("It works. Then we ship.") == ["It works.", "Then we ship."]


def test_overlong_sentence_splits_at_largest_gap() -> None:
    spec = " ".join(["word"] * 12) + " |0.3 " + " ".join(["other"] * 12)
    sentences = segment_sentences(words_from(spec), SegmentationConfig(max_words=16))
    assert [s.last_word - s.first_word + 1 for s in sentences] == [12, 12]


def test_indices_cover_every_word_once() -> None:
    words = words_from("one two three |0.8 four five |0.8 six seven eight nine |0.8 ten")
    sentences = segment_sentences(words)
    covered = [i for s in sentences for i in range(s.first_word, s.last_word + 1)]
    assert covered == list(range(len(words)))
    for s in sentences:
        assert s.start == words[s.first_word].start and s.end == words[s.last_word].end
        assert s.text == " ".join(w.word for w in words[s.first_word : s.last_word + 1])


def test_empty() -> None:
    assert segment_sentences([]) == []


def test_merge_words_drops_duplicates_and_clamps() -> None:
    raw = [
        Word(word="b", start=1.0, end=1.4),
        Word(word="a", start=0.2, end=0.6),
        Word(word="b", start=1.05, end=1.45),  # the same word seen by an overlapping chunk
        Word(word="c", start=9.8, end=10.5),  # runs past the end of the audio
    ]
    merged = merge_words(raw, duration=10.0)
    assert [w.word for w in merged] == ["a", "b", "c"]
    assert merged[-1].end == pytest.approx(10.0)
    assert all(a.end <= b.start for a, b in itertools.pairwise(merged))
