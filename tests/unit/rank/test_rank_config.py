"""The one config: weights, durations and topic knobs all come from RankerConfig."""

from __future__ import annotations

from pathlib import Path

import pytest
from clipforge_common.transcript import Transcript
from clipforge_rank.domain import FEATURE_NAMES, FeatureWeights, RankerConfig, rank_transcript
from clipforge_rank.domain.scoring import reasons_for, score
from pydantic import ValidationError

from tests.unit.rank.rank_samples import COFFEE, make_transcript


def test_feature_names_are_the_weight_fields(three_topics: Transcript) -> None:
    assert set(FEATURE_NAMES) == set(FeatureWeights.model_fields)
    clip = rank_transcript(three_topics).clips[0]
    assert tuple(clip.features) == FEATURE_NAMES


def test_score_uses_the_configured_weights() -> None:
    features = dict.fromkeys(FEATURE_NAMES, 0.0) | {"duration_fit": 0.8, "hook": 0.2}
    only_duration = FeatureWeights(**(dict.fromkeys(FEATURE_NAMES, 0.0) | {"duration_fit": 1.0}))
    assert score(features, only_duration) == pytest.approx(80.0)
    only_hook = FeatureWeights(**(dict.fromkeys(FEATURE_NAMES, 0.0) | {"hook": 2.0}))
    assert score(features, only_hook) == pytest.approx(20.0)
    assert 0 <= score(features, FeatureWeights()) <= 100
    assert score(dict.fromkeys(FEATURE_NAMES, 1.0), FeatureWeights()) == 100.0
    assert score(dict.fromkeys(FEATURE_NAMES, 0.0), FeatureWeights()) == 0.0


def test_rank_transcript_scores_with_config_weights(three_topics: Transcript) -> None:
    cfg = RankerConfig().with_overrides({"weights": dict.fromkeys(FEATURE_NAMES, 0.0) | {"coherence": 1.0}})
    for clip in rank_transcript(three_topics, config=cfg).clips:
        assert clip.score == pytest.approx(100 * clip.features["coherence"], abs=0.01)


def test_load_from_yaml_dict_and_overrides(tmp_path: Path) -> None:
    path = tmp_path / "ranker.yaml"
    path.write_text("version: tfidf-v2\ntarget_seconds: 40\nweights:\n  hook: 0.5\ntopics:\n  block_size: 4\n")
    cfg = RankerConfig.load(path, overrides={"weights": {"sentiment": 0.0}, "max_clips": 5})
    assert cfg.version == "tfidf-v2"
    assert cfg.target_seconds == 40
    assert cfg.weights.hook == 0.5
    assert cfg.weights.sentiment == 0.0
    assert cfg.weights.duration_fit == FeatureWeights().duration_fit  # untouched keys keep defaults
    assert cfg.topics.block_size == 4
    assert cfg.max_clips == 5
    assert RankerConfig.load({"version": "x"}).version == "x"
    assert RankerConfig.load() == RankerConfig()


@pytest.mark.parametrize(
    "bad",
    [
        {"min_seconds": 50, "target_seconds": 35},
        {"weights": dict.fromkeys(FEATURE_NAMES, 0.0)},
        {"weights": {"hook": -1}},
        {"weights": {"charisma": 1}},
        {"max_overlap": 1.5},
        {"unknown": 1},
    ],
)
def test_invalid_config_is_rejected(bad: dict) -> None:
    with pytest.raises(ValidationError):
        RankerConfig.from_mapping(bad)


def test_max_clips_and_version_flow_through() -> None:
    t = make_transcript(COFFEE * 2)
    result = rank_transcript(t, config=RankerConfig(version="test-v9", max_clips=2, min_seconds=10))
    assert result.ranker_version == "test-v9"
    assert len(result.clips) == 2


def test_reasons_follow_the_strongest_weighted_features() -> None:
    features = dict.fromkeys(FEATURE_NAMES, 0.1) | {"self_contained": 1.0, "duration_fit": 0.95}
    assert reasons_for(features, FeatureWeights()) == ["Self-contained", "Ideal length"]
    weak = dict.fromkeys(FEATURE_NAMES, 0.1) | {"hook": 0.3}
    assert reasons_for(weak, FeatureWeights()) == ["Strong hook"]  # fallback: the strongest one
