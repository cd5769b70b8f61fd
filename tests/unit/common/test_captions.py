"""Caption cues: chunking rules, SRT/VTT formatting and parsing."""

from __future__ import annotations

import itertools

import pytest
from clipforge_common.captions import build_cues, parse_srt, parse_vtt, to_srt, to_vtt
from clipforge_common.transcript import Sentence, Transcript, Word


def make_transcript(sentences: list[str], *, start: float = 0.0, word_s: float = 0.3, pause: float = 0.8) -> Transcript:
    words: list[Word] = []
    spans: list[Sentence] = []
    t = start
    for text in sentences:
        first = len(words)
        for token in text.split():
            words.append(Word(word=token, start=round(t, 3), end=round(t + word_s - 0.05, 3)))
            t += word_s
        spans.append(
            Sentence(text=text, start=words[first].start, end=words[-1].end, first_word=first, last_word=len(words) - 1)
        )
        t += pause
    return Transcript(engine="test", engine_version="0", duration=round(t, 3), words=words, sentences=spans)


TALK = make_transcript(
    [
        "have you ever wondered why your morning coffee tastes so bitter",
        "the answer is usually hiding in the water temperature",
        "so let us fix it",
    ],
    start=1.0,
)


def test_srt_round_trip_respects_line_limits() -> None:
    srt = to_srt(TALK, max_chars=20, max_lines=2)
    cues = parse_srt(srt)
    assert len(cues) >= 4
    for cue in cues:
        assert 1 <= len(cue.lines) <= 2
        assert all(len(line) <= 20 for line in cue.lines)
        assert cue.end > cue.start
    # Every word appears once, in order.
    assert " ".join(" ".join(c.lines) for c in cues).split() == [w.word for w in TALK.words]


def test_cues_never_span_sentences_and_do_not_overlap() -> None:
    cues = build_cues(TALK, offset_to_zero=False)
    sentence_texts = [s.text for s in TALK.sentences]
    for cue in cues:
        text = " ".join(cue.lines)
        assert any(text in s for s in sentence_texts), text
    for a, b in itertools.pairwise(cues):
        assert a.end <= b.start + 1e-9


def test_times_relative_to_clip_start_and_range_filtered() -> None:
    second = TALK.sentences[1]
    cues = build_cues(TALK, second.start, second.end)
    assert cues[0].start == pytest.approx(0.0, abs=1e-6)
    assert cues[-1].end == pytest.approx(second.end - second.start, abs=1e-3)
    assert " ".join(" ".join(c.lines) for c in cues) == second.text
    absolute = build_cues(TALK, second.start, second.end, offset_to_zero=False)
    assert absolute[0].start == pytest.approx(second.start)


def test_pause_inside_a_sentence_starts_a_new_cue() -> None:
    words = [
        Word(word="one", start=0.0, end=0.3),
        Word(word="two", start=0.35, end=0.6),
        Word(word="three", start=2.0, end=2.3),
    ]
    t = Transcript(
        engine="t",
        engine_version="0",
        duration=3.0,
        words=words,
        sentences=[Sentence(text="one two three", start=0.0, end=2.3, first_word=0, last_word=2)],
    )
    cues = build_cues(t)
    assert [c.lines for c in cues] == [("one two",), ("three",)]


def test_overlong_word_gets_its_own_line() -> None:
    t = make_transcript(["a supercalifragilisticexpialidocious word"])
    cues = build_cues(t, max_chars=10, max_lines=2)
    assert any("supercalifragilisticexpialidocious" in c.lines for c in cues)
    assert all(len(c.lines) <= 2 for c in cues)


def test_vtt_matches_srt_and_has_header() -> None:
    vtt = to_vtt(TALK)
    assert vtt.startswith("WEBVTT\n\n")
    assert "." in vtt.splitlines()[2]  # VTT uses a dot before milliseconds
    assert parse_vtt(vtt) == parse_srt(to_srt(TALK))


def test_timestamps_past_one_hour() -> None:
    t = make_transcript(["late words here"], start=3725.5)
    srt = to_srt(t, offset_to_zero=False)
    assert "01:02:05,500 --> " in srt


def test_empty_range_gives_empty_document() -> None:
    assert to_srt(TALK, 100.0, 110.0) == ""
    assert parse_srt("") == []
    assert to_vtt(TALK, 100.0, 110.0) == "WEBVTT\n\n"


@pytest.mark.parametrize(
    "bad",
    [
        "1\n00:00:01,000 -> 00:00:02,000\nhello\n",  # bad arrow
        "1\n00:00:01,000 --> 00:00:02,000\n",  # no text
        "2\n00:00:01,000 --> 00:00:02,000\nhello\n",  # wrong index
        "1\n00:00:03,000 --> 00:00:02,000\nhello\n",  # ends before start
    ],
)
def test_parse_srt_rejects_malformed(bad: str) -> None:
    with pytest.raises(ValueError):
        parse_srt(bad)


def test_end_before_start_is_an_error() -> None:
    with pytest.raises(ValueError):
        build_cues(TALK, 5.0, 1.0)
