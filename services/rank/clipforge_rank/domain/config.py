"""Ranker configuration: the one place where durations, segmentation knobs and feature weights live.

A ``RankerConfig`` is plain data. It can be built from code, a mapping or a YAML file, and then
overridden (for example from the rank service's settings) with a nested mapping of changes. The
``version`` string is part of every clip id, so bump it whenever a change alters scores.
"""

from __future__ import annotations

from collections.abc import Mapping
from pathlib import Path
from typing import Any

import yaml
from pydantic import BaseModel, ConfigDict, Field, model_validator

__all__ = ["FEATURE_NAMES", "FeatureWeights", "RankerConfig", "TopicConfig"]


class FeatureWeights(BaseModel):
    """Relative weight of each feature in the score; they need not sum to 1 (the score normalises)."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    hook: float = Field(default=0.22, ge=0)
    self_contained: float = Field(default=0.18, ge=0)
    complete_ending: float = Field(default=0.12, ge=0)
    coherence: float = Field(default=0.10, ge=0)
    loudness_dynamics: float = Field(default=0.08, ge=0)
    speech_rate: float = Field(default=0.08, ge=0)
    sentiment: float = Field(default=0.08, ge=0)
    duration_fit: float = Field(default=0.14, ge=0)

    @model_validator(mode="after")
    def _not_all_zero(self) -> FeatureWeights:
        if sum(self.as_dict().values()) <= 0:
            raise ValueError("at least one feature weight must be positive")
        return self

    def as_dict(self) -> dict[str, float]:
        return {name: float(getattr(self, name)) for name in FEATURE_NAMES}


# The feature vector's keys, in a stable order; features.py produces exactly these.
FEATURE_NAMES: tuple[str, ...] = tuple(FeatureWeights.model_fields)


class TopicConfig(BaseModel):
    """TextTiling parameters (see topics.py)."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    block_size: int = Field(default=3, ge=1, description="sentences per block compared across a gap")
    depth_c: float = Field(default=0.5, description="boundary where depth > mean(depth) - depth_c * std(depth)")
    depth_threshold: float | None = Field(
        default=None, ge=0, description="fixed depth cut-off; replaces the mean/std rule when set"
    )
    min_depth: float = Field(default=0.15, ge=0, description="absolute floor: shallower valleys are never boundaries")
    min_topic_sentences: int = Field(default=3, ge=1)
    min_topic_seconds: float = Field(
        default=30.0, ge=0, description="no topic shorter than this (keeps room for candidates)"
    )
    pause_weight: float = Field(
        default=1.0,
        ge=0,
        description="weight of the pause cue added to each gap's depth (0 = words only); see topics.pause_scores",
    )
    vectorizer: str = Field(default="tfidf", pattern="^(tfidf|sentence-transformers)$")


class RankerConfig(BaseModel):
    """Everything that decides which clips come out and in what order."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    version: str = Field(default="tfidf-pause-v2", min_length=1)
    min_seconds: float = Field(default=15.0, gt=0)
    max_seconds: float = Field(default=90.0, gt=0)
    target_seconds: float = Field(default=35.0, gt=0)
    duration_tolerance: float = Field(
        default=0.45, gt=0, description="width of the duration-fit bump, in log(duration/target)"
    )
    max_overlap: float = Field(
        default=0.5, ge=0, le=1, description="drop a clip overlapping a better one by more than this"
    )
    max_clips: int | None = Field(default=None, ge=1, description="keep at most this many (best first)")
    weights: FeatureWeights = Field(default_factory=FeatureWeights)
    topics: TopicConfig = Field(default_factory=TopicConfig)

    @model_validator(mode="after")
    def _durations_ordered(self) -> RankerConfig:
        if not self.min_seconds <= self.target_seconds <= self.max_seconds:
            raise ValueError("need min_seconds <= target_seconds <= max_seconds")
        return self

    @classmethod
    def from_mapping(cls, data: Mapping[str, Any] | None) -> RankerConfig:
        return cls.model_validate(dict(data or {}))

    @classmethod
    def from_yaml(cls, path: str | Path) -> RankerConfig:
        data = yaml.safe_load(Path(path).read_text(encoding="utf-8")) or {}
        if not isinstance(data, Mapping):
            raise ValueError(f"{path}: expected a mapping at the top level")
        return cls.from_mapping(data)

    @classmethod
    def load(
        cls, source: str | Path | Mapping[str, Any] | None = None, overrides: Mapping[str, Any] | None = None
    ) -> RankerConfig:
        """Defaults, then ``source`` (a YAML path or a mapping), then ``overrides`` (e.g. settings)."""
        if source is None:
            base = cls()
        elif isinstance(source, Mapping):
            base = cls.from_mapping(source)
        else:
            base = cls.from_yaml(source)
        return base.with_overrides(overrides) if overrides else base

    def with_overrides(self, overrides: Mapping[str, Any]) -> RankerConfig:
        """A copy with ``overrides`` deep-merged in (nested keys like ``{"weights": {"hook": 0.3}}``)."""
        merged = _deep_merge(self.model_dump(), overrides)
        return type(self).model_validate(merged)


def _deep_merge(base: dict[str, Any], changes: Mapping[str, Any]) -> dict[str, Any]:
    out = dict(base)
    for key, value in changes.items():
        if isinstance(value, Mapping) and isinstance(out.get(key), dict):
            out[key] = _deep_merge(out[key], value)
        else:
            out[key] = value
    return out
