"""Feature vector -> 0..100 score, human-readable reasons and a suggested title."""

from __future__ import annotations

import re
from collections.abc import Mapping, Sequence

from sklearn.feature_extraction.text import ENGLISH_STOP_WORDS

from .config import FEATURE_NAMES, FeatureWeights

__all__ = ["reasons_for", "score", "suggest_title"]


def score(features: Mapping[str, float], weights: FeatureWeights) -> float:
    """Weighted mean of the features scaled to 0..100 (rounded to 0.01)."""
    w = weights.as_dict()
    missing = set(FEATURE_NAMES) - set(features)
    if missing:
        raise ValueError(f"missing features: {sorted(missing)}")
    total = sum(w.values())
    value = sum(w[name] * min(1.0, max(0.0, float(features[name]))) for name in FEATURE_NAMES) / total
    return round(100.0 * value, 2)


# Cue -> reason, in the order that makes the best one-line pitch.
_HOOK_REASONS: tuple[tuple[str, str], ...] = (
    ("question", "Opens with a question"),
    ("surprise", "Opens with a surprise"),
    ("number", "Opens with a concrete number"),
    ("claim", "Opens with a strong claim"),
    ("you", "Speaks directly to the viewer"),
)
# feature -> (threshold at which it is worth mentioning, reason)
_FEATURE_REASONS: dict[str, tuple[float, str]] = {
    "hook": (0.5, "Strong hook"),
    "self_contained": (0.9, "Self-contained"),
    "complete_ending": (0.85, "Ends on a complete thought"),
    "coherence": (0.5, "Stays on one topic"),
    "loudness_dynamics": (0.65, "Lively delivery"),
    "speech_rate": (0.8, "Lively delivery"),
    "sentiment": (0.5, "Emotionally charged"),
    "duration_fit": (0.8, "Ideal length"),
}


def reasons_for(
    features: Mapping[str, float],
    weights: FeatureWeights,
    hook_cues: Sequence[str] = (),
    *,
    limit: int = 3,
) -> list[str]:
    """Up to ``limit`` reasons, from the features that contribute most to the score.

    Only features above their threshold are mentioned; when none is, the single strongest feature
    is, so every clip has at least one reason.
    """
    w = weights.as_dict()
    ranked = sorted(FEATURE_NAMES, key=lambda n: (-w[n] * features[n], FEATURE_NAMES.index(n)))
    out: list[str] = []
    for name in ranked:
        threshold, text = _FEATURE_REASONS[name]
        if w[name] <= 0 or features[name] < threshold:
            continue
        if name == "hook":
            text = next((r for cue, r in _HOOK_REASONS if cue in hook_cues), text)
        if text not in out:
            out.append(text)
        if len(out) == limit:
            break
    if not out:
        out.append(_FEATURE_REASONS[ranked[0]][1])
    return out


_LEADING_NOISE = frozenset(
    {"so", "and", "but", "well", "okay", "ok", "um", "uh", "yeah", "now", "look", "like", "right", "anyway"}
)
_SMALL_WORDS = frozenset(
    {"a", "an", "the", "and", "but", "or", "nor", "for", "so", "yet", "on", "at", "to", "from", "by",
     "of", "in", "with", "as", "vs", "via", "per", "into", "onto", "off", "up"}
)  # fmt: skip


def suggest_title(hook: str, max_chars: int = 60) -> str:
    """A short title from the hook sentence: fillers dropped, cut at a word, title-cased sensibly."""
    words = hook.split()
    while words and words[0].lower().strip(",.;:!?-") in _LEADING_NOISE and len(words) > 3:
        words = words[1:]
    text = " ".join(words).strip(" ,;:-")
    cut = False
    if len(text) > max_chars:
        room = text[: max_chars - 1]
        space = room.rfind(" ")
        text = room[:space] if space > max_chars // 2 else room
        cut = True
        # "... Roasted Within The…" reads badly; end the cut title on a content word.
        words = text.split(" ")
        while len(words) > 3 and words[-1].lower().strip(",.;:") in ENGLISH_STOP_WORDS:
            words.pop()
        text = " ".join(words)
    text = text.rstrip(" ,;:-")
    ending = ""
    if not cut and text.endswith(("?", "!")):
        ending = text[-1]
    text = text.rstrip(".?!…,;: ")
    title = _title_case(text) + ending
    return title + "…" if cut else title


def _title_case(text: str) -> str:
    parts = text.split(" ")
    out: list[str] = []
    for k, word in enumerate(parts):
        core = re.sub(r"^\W+|\W+$", "", word)
        keep = (
            not core
            or any(c.isupper() for c in core[1:])  # iPhone, NASA, McDonald
            or any(c.isdigit() for c in core)
        )
        if keep:
            out.append(word)
        elif core.lower() in _SMALL_WORDS and 0 < k < len(parts) - 1:
            out.append(word.lower())
        else:
            idx = word.find(core[0])
            out.append(word[:idx] + word[idx].upper() + word[idx + 1 :])
    return " ".join(out)
