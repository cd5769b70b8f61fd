"""Caption cues (SRT and WebVTT) from a word-timed transcript.

Words are grouped into short cues for vertical video: a cue never spans a sentence boundary or a
long pause, has at most ``max_lines`` lines of at most ``max_chars`` characters, and is timed by its
first and last word.
"""

from __future__ import annotations

import re
from dataclasses import dataclass

from clipforge_common.transcript import Transcript, Word

__all__ = ["Cue", "build_cues", "parse_srt", "parse_vtt", "to_srt", "to_vtt"]

# A silence this long inside a sentence still starts a new cue, so text never lingers over a pause.
PAUSE_BREAK_S = 0.6
# Readers need time; very long cues are split even without a pause.
MAX_CUE_SECONDS = 6.0
# Short words hang on screen for at least this long (unless the next cue starts sooner).
MIN_CUE_SECONDS = 0.5


@dataclass(frozen=True)
class Cue:
    start: float
    end: float
    lines: tuple[str, ...]

    @property
    def text(self) -> str:
        return "\n".join(self.lines)


def build_cues(
    transcript: Transcript,
    start: float = 0.0,
    end: float | None = None,
    *,
    max_chars: int = 32,
    max_lines: int = 2,
    offset_to_zero: bool = True,
) -> list[Cue]:
    """Cues for the words of ``transcript`` between ``start`` and ``end`` (seconds).

    A word belongs to the range when its midpoint does; its times are clamped to the range. With
    ``offset_to_zero`` the cue times are relative to ``start`` (what a cut clip needs).
    """
    if max_chars < 1 or max_lines < 1:
        raise ValueError("max_chars and max_lines must be positive")
    stop = transcript.duration if end is None else end
    if stop < start:
        raise ValueError(f"end ({stop}) is before start ({start})")
    sentence_starts = {s.first_word for s in transcript.sentences}

    groups: list[list[Word]] = []
    current: list[Word] = []
    current_lines: list[str] = []
    prev: Word | None = None
    for index, word in enumerate(transcript.words):
        text = word.word.strip()
        mid = (word.start + word.end) / 2
        if not text or mid < start or mid > stop:
            continue
        new_cue = (
            prev is None
            or index in sentence_starts
            or word.start - prev.end >= PAUSE_BREAK_S
            or (current and word.end - current[0].start > MAX_CUE_SECONDS)
        )
        lines = current_lines if not new_cue else []
        wrapped = _append_word(lines, text, max_chars)
        if not new_cue and len(wrapped) > max_lines:
            new_cue = True
            wrapped = [text]
        if new_cue:
            if current:
                groups.append(current)
            current = []
        current.append(word)
        current_lines = wrapped
        prev = word
    if current:
        groups.append(current)

    shift = start if offset_to_zero else 0.0
    cues: list[Cue] = []
    for i, group in enumerate(groups):
        cue_start = max(group[0].start, start)
        cue_end = min(max(group[-1].end, cue_start + MIN_CUE_SECONDS), stop)
        if i + 1 < len(groups):
            cue_end = min(cue_end, max(groups[i + 1][0].start, start))
        cue_end = max(cue_end, cue_start)
        lines = tuple(_wrap([w.word.strip() for w in group], max_chars))
        cues.append(Cue(round(cue_start - shift, 3), round(cue_end - shift, 3), lines))
    return cues


def _append_word(lines: list[str], word: str, max_chars: int) -> list[str]:
    """Greedy line fill; a word longer than ``max_chars`` gets a line of its own."""
    out = list(lines)
    if out and len(out[-1]) + 1 + len(word) <= max_chars:
        out[-1] = f"{out[-1]} {word}"
    else:
        out.append(word)
    return out


def _wrap(words: list[str], max_chars: int) -> list[str]:
    lines: list[str] = []
    for w in words:
        lines = _append_word(lines, w, max_chars)
    return lines


def _timestamp(seconds: float, sep: str) -> str:
    ms = max(0, round(seconds * 1000))
    h, rem = divmod(ms, 3_600_000)
    m, rem = divmod(rem, 60_000)
    s, ms = divmod(rem, 1000)
    return f"{h:02d}:{m:02d}:{s:02d}{sep}{ms:03d}"


def to_srt(
    transcript: Transcript,
    start: float = 0.0,
    end: float | None = None,
    *,
    max_chars: int = 32,
    max_lines: int = 2,
    offset_to_zero: bool = True,
) -> str:
    """SubRip text for the range (see :func:`build_cues`)."""
    cues = build_cues(transcript, start, end, max_chars=max_chars, max_lines=max_lines, offset_to_zero=offset_to_zero)
    blocks = [
        f"{i}\n{_timestamp(c.start, ',')} --> {_timestamp(c.end, ',')}\n{c.text}\n" for i, c in enumerate(cues, start=1)
    ]
    return "\n".join(blocks)


def to_vtt(
    transcript: Transcript,
    start: float = 0.0,
    end: float | None = None,
    *,
    max_chars: int = 32,
    max_lines: int = 2,
    offset_to_zero: bool = True,
) -> str:
    """WebVTT text for the range (see :func:`build_cues`)."""
    cues = build_cues(transcript, start, end, max_chars=max_chars, max_lines=max_lines, offset_to_zero=offset_to_zero)
    blocks = [f"{_timestamp(c.start, '.')} --> {_timestamp(c.end, '.')}\n{c.text}\n" for c in cues]
    return "WEBVTT\n\n" + "\n".join(blocks)


_SRT_TIME = r"(\d{2,}):([0-5]\d):([0-5]\d)[,.](\d{3})"
_SRT_TIMING = re.compile(rf"^{_SRT_TIME}\s+-->\s+{_SRT_TIME}(?:\s.*)?$")


def _seconds(h: str, m: str, s: str, ms: str) -> float:
    return int(h) * 3600 + int(m) * 60 + int(s) + int(ms) / 1000


def parse_srt(text: str) -> list[Cue]:
    """Parse SubRip text strictly; raises ``ValueError`` on a malformed block."""
    cues: list[Cue] = []
    body = text.replace("\r\n", "\n").lstrip("\ufeff").strip()
    if not body:
        return cues
    for n, block in enumerate(re.split(r"\n\s*\n", body), start=1):
        lines = block.split("\n")
        if len(lines) < 3:
            raise ValueError(f"SRT block {n} has no text: {block!r}")
        if not lines[0].strip().isdigit() or int(lines[0]) != n:
            raise ValueError(f"SRT block {n} has index {lines[0]!r}")
        cues.append(_parse_timed(lines[1:], f"SRT block {n}"))
    return cues


def parse_vtt(text: str) -> list[Cue]:
    """Parse the subset of WebVTT that :func:`to_vtt` writes; raises ``ValueError`` if malformed."""
    body = text.replace("\r\n", "\n").lstrip("\ufeff")
    if not body.startswith("WEBVTT"):
        raise ValueError("not a WebVTT file (missing WEBVTT header)")
    blocks = re.split(r"\n\s*\n", body.strip())[1:]
    cues: list[Cue] = []
    for n, block in enumerate(blocks, start=1):
        lines = block.split("\n")
        if "-->" not in lines[0]:
            lines = lines[1:]  # optional cue identifier
        cues.append(_parse_timed(lines, f"VTT cue {n}"))
    return cues


def _parse_timed(lines: list[str], where: str) -> Cue:
    m = _SRT_TIMING.match(lines[0].strip()) if lines else None
    if not m:
        raise ValueError(f"{where} has a bad timing line: {lines[:1]!r}")
    start, end = _seconds(*m.groups()[:4]), _seconds(*m.groups()[4:])
    if end < start:
        raise ValueError(f"{where} ends before it starts")
    text = tuple(line for line in lines[1:] if line.strip())
    if not text:
        raise ValueError(f"{where} has no text")
    return Cue(start, end, text)
