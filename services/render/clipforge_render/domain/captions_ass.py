"""Burned-in karaoke captions as an ASS subtitle file (rendered by libass through ffmpeg).

Words are grouped into short chunks (at most ``max_lines`` lines of about ``max_chars``), broken at
sentence ends, pauses and a maximum duration so viewers can read along. Each chunk is written as one
Dialogue event per word; the event shows the whole chunk with the word being spoken in the highlight
colour, so the highlight hops from word to word without any text reflow. Times are relative to the
clip start. Captions sit inside the preset's safe zone, clear of the platform's UI.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path

from clipforge_common.transcript import Word

from .presets import CaptionStyle, VideoPreset, hex_to_ass

__all__ = ["CaptionChunk", "CaptionWord", "build_ass", "chunk_words", "write_ass"]

_SENTENCE_END = (".", "!", "?", "…")
# A caption that flashes for less than this is unreadable; hold it (unless the next one starts).
_MIN_CHUNK_SECONDS = 0.4
# Bridge short silences between chunks so the caption area does not flicker.
_BRIDGE_SECONDS = 0.35


@dataclass(frozen=True)
class CaptionWord:
    """A word with times relative to the clip start."""

    text: str
    start: float
    end: float


@dataclass(frozen=True)
class CaptionChunk:
    """What is on screen at once: ``lines`` of words, shown from ``start`` to ``end`` (clip time)."""

    start: float
    end: float
    lines: tuple[tuple[CaptionWord, ...], ...]

    @property
    def words(self) -> list[CaptionWord]:
        return [w for line in self.lines for w in line]

    @property
    def line_texts(self) -> list[str]:
        return [" ".join(w.text for w in line) for line in self.lines]


def _wrap(texts: Sequence[str], max_chars: int) -> list[list[int]]:
    """Greedy line fill; returns word indices per line (a word longer than a line stands alone)."""
    lines: list[list[int]] = []
    width = 0
    for i, t in enumerate(texts):
        if lines and width + 1 + len(t) <= max_chars:
            lines[-1].append(i)
            width += 1 + len(t)
        else:
            lines.append([i])
            width = len(t)
    return lines


def _balance(texts: Sequence[str], max_chars: int, max_lines: int) -> list[list[int]]:
    """Like :func:`_wrap` but, for two lines, split where the longer line is shortest (looks better)."""
    lines = _wrap(texts, max_chars)
    if len(lines) != 2 or max_lines < 2:
        return lines
    best = lines
    best_width = max(len(" ".join(texts[i] for i in line)) for line in lines)
    for cut in range(1, len(texts)):
        a, b = " ".join(texts[:cut]), " ".join(texts[cut:])
        if len(a) <= max_chars and len(b) <= max_chars and max(len(a), len(b)) < best_width:
            best = [list(range(cut)), list(range(cut, len(texts)))]
            best_width = max(len(a), len(b))
    return best


def _clean(text: str, uppercase: bool) -> str:
    # Braces open ASS override blocks and backslashes start tags; neither may come from a transcript.
    out = text.strip().replace("\\", "/").replace("{", "(").replace("}", ")").replace("\n", " ")
    return out.upper() if uppercase else out


def chunk_words(
    words: Sequence[Word],
    clip_start: float,
    clip_end: float,
    style: CaptionStyle | None = None,
) -> list[CaptionChunk]:
    """Group the words of ``[clip_start, clip_end]`` into caption chunks (times relative to the clip).

    A word belongs to the clip when its midpoint does. A chunk ends after a sentence-final word,
    before a pause of ``style.pause_break`` seconds, before it would exceed ``style.max_lines`` lines
    of ``style.max_chars`` or last longer than ``style.max_chunk_seconds``.
    """
    st = style or CaptionStyle()
    duration = clip_end - clip_start
    picked: list[CaptionWord] = []
    ends_sentence: list[bool] = []
    for w in words:
        mid = (w.start + w.end) / 2
        text = _clean(w.word, st.uppercase)
        if not text or mid < clip_start or mid > clip_end:
            continue
        s = min(max(w.start - clip_start, 0.0), duration)
        e = min(max(w.end - clip_start, s), duration)
        picked.append(CaptionWord(text, round(s, 3), round(e, 3)))
        ends_sentence.append(text.rstrip("\"')]").endswith(_SENTENCE_END))

    groups: list[list[CaptionWord]] = []
    current: list[CaptionWord] = []
    for i, w in enumerate(picked):
        if current:
            prev = current[-1]
            too_long = w.end - current[0].start > st.max_chunk_seconds
            too_wide = len(_wrap([x.text for x in [*current, w]], st.max_chars)) > st.max_lines
            if ends_sentence[i - 1] or w.start - prev.end >= st.pause_break or too_long or too_wide:
                groups.append(current)
                current = []
        current.append(w)
    if current:
        groups.append(current)

    chunks: list[CaptionChunk] = []
    for n, group in enumerate(groups):
        start = group[0].start
        end = max(group[-1].end, start + _MIN_CHUNK_SECONDS)
        if n + 1 < len(groups):
            nxt = groups[n + 1][0].start
            end = nxt if nxt - group[-1].end <= _BRIDGE_SECONDS else min(end, nxt)
        end = min(end, duration)
        layout = _balance([w.text for w in group], st.max_chars, st.max_lines)
        lines = tuple(tuple(group[i] for i in line) for line in layout)
        chunks.append(CaptionChunk(round(start, 3), round(max(end, start), 3), lines))
    return chunks


def _ass_time(centis: int) -> str:
    h, rem = divmod(max(0, centis), 360_000)
    m, rem = divmod(rem, 6_000)
    s, cs = divmod(rem, 100)
    return f"{h}:{m:02d}:{s:02d}.{cs:02d}"


def _cs(seconds: float) -> int:
    return round(seconds * 100)


def build_ass(
    words: Sequence[Word],
    clip_start: float,
    clip_end: float,
    style: CaptionStyle,
    preset: VideoPreset,
) -> str:
    """The complete ASS document for one clip rendered at ``preset``'s size."""
    w, h = preset.width, preset.height
    font_size = style.resolved_font_size(preset)
    scale = w / 1080.0
    alignment, margin_v = {
        "bottom": (2, int(h * preset.safe_bottom) + font_size // 4),
        "middle": (5, 0),
        "top": (8, int(h * preset.safe_top) + font_size // 4),
    }[style.position]
    margin_lr = int(w * preset.safe_sides)
    primary = hex_to_ass(style.primary_color)
    highlight = hex_to_ass(style.highlight_color)
    # Override tags take &HBBGGRR& (alpha is a separate tag); the style line takes &HAABBGGRR.
    highlight_tag = f"&H{highlight[4:]}&"
    outline = hex_to_ass(style.outline_color)
    header = [
        "[Script Info]",
        "; Generated by ClipForge",
        "ScriptType: v4.00+",
        f"PlayResX: {w}",
        f"PlayResY: {h}",
        "WrapStyle: 2",  # no automatic wrapping: lines are exactly as chunked
        "ScaledBorderAndShadow: yes",
        "YCbCr Matrix: TV.709",
        "",
        "[V4+ Styles]",
        "Format: Name, Fontname, Fontsize, PrimaryColour, SecondaryColour, OutlineColour, BackColour, "
        "Bold, Italic, Underline, StrikeOut, ScaleX, ScaleY, Spacing, Angle, BorderStyle, Outline, "
        "Shadow, Alignment, MarginL, MarginR, MarginV, Encoding",
        f"Style: Caption,{style.font},{font_size},{primary},{highlight},{outline},&H80000000,"
        f"{-1 if style.bold else 0},0,0,0,100,100,0,0,1,{style.outline * scale:.1f},"
        f"{style.shadow * scale:.1f},{alignment},{margin_lr},{margin_lr},{margin_v},1",
        "",
        "[Events]",
        "Format: Layer, Start, End, Style, Name, MarginL, MarginR, MarginV, Effect, Text",
    ]
    events: list[str] = []
    if style.enabled:
        for chunk in chunk_words(words, clip_start, clip_end, style):
            flat = chunk.words
            # Contiguous per-word events: word k is lit from its start until the next word starts.
            bounds = [_cs(chunk.start)] + [_cs(x.start) for x in flat[1:]] + [_cs(chunk.end)]
            bounds = [max(bounds[0], min(b, bounds[-1])) for b in bounds]
            for k in range(len(flat)):
                a, b = bounds[k], max(bounds[k + 1], bounds[k])
                if b <= a:
                    continue
                events.append(
                    f"Dialogue: 0,{_ass_time(a)},{_ass_time(b)},Caption,,0,0,0,,{_lit(chunk, k, highlight_tag)}"
                )
    return "\n".join(header + events) + "\n"


def _lit(chunk: CaptionChunk, active: int, highlight: str) -> str:
    """Chunk text with word ``active`` in the highlight colour (``\\r`` resets to the style)."""
    out_lines: list[str] = []
    k = 0
    for line in chunk.lines:
        parts: list[str] = []
        for w in line:
            parts.append(f"{{\\1c{highlight}}}{w.text}{{\\r}}" if k == active else w.text)
            k += 1
        out_lines.append(" ".join(parts))
    return "\\N".join(out_lines)


def write_ass(
    path: str | Path,
    words: Sequence[Word],
    clip_start: float,
    clip_end: float,
    style: CaptionStyle,
    preset: VideoPreset,
) -> Path:
    """Write :func:`build_ass` to ``path`` (UTF-8 with BOM-less newline endings) and return it."""
    out = Path(path)
    out.write_text(build_ass(words, clip_start, clip_end, style, preset), encoding="utf-8")
    return out
