"""ASS karaoke captions: chunking, highlight, clip-relative times and safe-zone placement."""

from __future__ import annotations

import itertools
import re

import pytest
from clipforge_common.transcript import Word
from clipforge_render.domain.captions_ass import build_ass, chunk_words
from clipforge_render.domain.presets import PRESETS, CaptionStyle

from tests.unit.render.render_media import timed_words

TEXT = (
    "Have you ever wondered why your morning coffee tastes so bitter? The answer is usually hiding "
    "in the water temperature, and most people never check it. Grind your beans right before you "
    "brew and weigh the coffee instead of using a scoop."
)
DIALOGUE = re.compile(r"^Dialogue: 0,(\d+):(\d\d):(\d\d)\.(\d\d),(\d+):(\d\d):(\d\d)\.(\d\d),Caption,,0,0,0,,(.*)$")


def _events(ass: str) -> list[tuple[float, float, str]]:
    out = []
    for line in ass.splitlines():
        m = DIALOGUE.match(line)
        if m:
            g = m.groups()
            start = int(g[0]) * 3600 + int(g[1]) * 60 + int(g[2]) + int(g[3]) / 100
            end = int(g[4]) * 3600 + int(g[5]) * 60 + int(g[6]) + int(g[7]) / 100
            out.append((start, end, g[8]))
    return out


def test_chunks_fit_two_lines_of_32_chars() -> None:
    words = timed_words(TEXT, start=100.0)
    chunks = chunk_words(words, 100.0, 100.0 + 30, CaptionStyle())
    assert len(chunks) >= 4
    for c in chunks:
        assert 1 <= len(c.lines) <= 2
        assert all(len(line) <= 32 for line in c.line_texts)
        assert c.end - c.start <= CaptionStyle().max_chunk_seconds + 0.5
    # Every word appears exactly once, in order.
    assert [w.text for c in chunks for w in c.words] == TEXT.split()
    # A chunk never runs across a sentence end.
    for c in chunks:
        assert not any(w.text.endswith((".", "?")) for w in c.words[:-1])


def test_chunk_times_are_relative_to_the_clip_and_clamped() -> None:
    words = timed_words(TEXT, start=100.0)
    clip_start, clip_end = 101.0, 106.0
    chunks = chunk_words(words, clip_start, clip_end, CaptionStyle())
    inside = [w for w in words if clip_start <= (w.start + w.end) / 2 <= clip_end]
    assert [w.text for c in chunks for w in c.words] == [w.word for w in inside]
    assert chunks[0].start == pytest.approx(inside[0].start - clip_start, abs=1e-3)
    for c in chunks:
        assert 0 <= c.start <= c.end <= clip_end - clip_start
    for a, b in itertools.pairwise(chunks):
        assert a.end <= b.start + 1e-9  # never two chunks on screen at once


def test_pause_starts_a_new_chunk() -> None:
    words = timed_words("one two three four five six seven eight", gap_every=4)
    chunks = chunk_words(words, 0, 10, CaptionStyle())
    assert [c.line_texts for c in chunks] == [["one two three four"], ["five six seven eight"]]


def test_one_event_per_word_with_the_active_word_highlighted() -> None:
    words = timed_words(TEXT, start=50.0)
    style = CaptionStyle(highlight_color="#FFD400")
    ass = build_ass(words, 50.0, 62.0, style, PRESETS["vertical"])
    events = _events(ass)
    chunks = chunk_words(words, 50.0, 62.0, style)
    assert len(events) == sum(len(c.words) for c in chunks)
    flat = [w for c in chunks for w in c.words]
    for (start, end, text), word in zip(events, flat, strict=True):
        assert text.count("\\1c&H00D4FF&") == 1  # exactly one lit word, in BGR order
        lit = re.search(r"\{\\1c&H00D4FF&\}(.*?)\{\\r\}", text)
        assert lit is not None and lit.group(1) == word.text
        assert text.count("\\N") <= 1  # at most two lines
        assert 0 <= start < end <= 12.0 + 1e-9
    # Within a chunk the events tile time exactly, so the caption never blinks; chunks never overlap.
    i = 0
    for c in chunks:
        own = events[i : i + len(c.words)]
        i += len(c.words)
        for (_, end, _), (start, _, _) in itertools.pairwise(own):
            assert start == pytest.approx(end)
        assert own[0][0] == pytest.approx(c.start, abs=0.01) and own[-1][1] == pytest.approx(c.end, abs=0.01)
    for (_, end, _), (start, _, _) in itertools.pairwise(events):
        assert start >= end - 1e-9
    assert "Style: Caption,DejaVu Sans," in ass
    assert "PlayResX: 1080" in ass and "PlayResY: 1920" in ass


def test_bottom_captions_sit_above_the_platform_ui() -> None:
    ass = build_ass(timed_words("hello there"), 0, 2, CaptionStyle(), PRESETS["vertical"])
    style_line = next(line for line in ass.splitlines() if line.startswith("Style: Caption"))
    fields = style_line.split(",")
    alignment, margin_v = int(fields[18]), int(fields[21])
    assert alignment == 2  # bottom centre
    assert margin_v >= 0.2 * 1920
    top = build_ass(timed_words("hi"), 0, 2, CaptionStyle(position="top"), PRESETS["vertical"])
    assert ",8," in next(line for line in top.splitlines() if line.startswith("Style: Caption"))
    middle = build_ass(timed_words("hi"), 0, 2, CaptionStyle(position="middle"), PRESETS["square"])
    assert ",5," in next(line for line in middle.splitlines() if line.startswith("Style: Caption"))


def test_transcript_text_cannot_inject_ass_tags() -> None:
    words = [Word(word="{\\b1}bold\\N", start=0.0, end=0.5), Word(word="ok.", start=0.5, end=1.0)]
    events = _events(build_ass(words, 0, 1, CaptionStyle(), PRESETS["square"]))
    for _, _, text in events:
        assert "{\\b1}" not in text
        assert text.count("{") == 2  # only the highlight override and its reset


def test_disabled_and_uppercase_styles() -> None:
    words = timed_words("make it loud")
    assert _events(build_ass(words, 0, 2, CaptionStyle(enabled=False), PRESETS["square"])) == []
    events = _events(build_ass(words, 0, 2, CaptionStyle(uppercase=True), PRESETS["square"]))
    assert "MAKE IT LOUD" in re.sub(r"\{[^}]*\}", "", events[0][2])
