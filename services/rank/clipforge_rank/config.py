"""Settings of the rank service (``CLIPFORGE_RANK_*``), beside the platform's ``CLIPFORGE_*``.

The ranker itself (durations, topic segmentation, feature weights, version) is one
:class:`~clipforge_rank.domain.RankerConfig`: built-in defaults, then an optional YAML file, then
JSON overrides (``CLIPFORGE_RANK_RANKER_OVERRIDES='{"max_seconds": 60}'``). ``rank.requested`` may
name another version (a ``<version>.yaml`` in ``ranker_versions_dir``) and/or pass settings.
"""

from __future__ import annotations

import hashlib
import json
from collections.abc import Mapping
from functools import lru_cache
from pathlib import Path
from typing import Any

from clipforge_common.service_config import ServiceConfig
from pydantic import Field
from pydantic_settings import SettingsConfigDict

from clipforge_rank.domain import RankerConfig


class UnknownRankerVersion(LookupError):
    """``rank.requested`` named a version this instance has no configuration for."""


class RankConfig(ServiceConfig):
    model_config = SettingsConfigDict(env_prefix="CLIPFORGE_RANK_", extra="ignore")

    ranker_config: Path | None = Field(default=None, description="YAML RankerConfig; built-in defaults if unset")
    ranker_overrides: dict[str, Any] = Field(
        default_factory=dict, description="JSON deep-merged over the ranker config (nested keys allowed)"
    )
    ranker_versions_dir: Path | None = Field(
        default=None, description="folder of <version>.yaml ranker configs that rank.requested may name"
    )
    use_audio: bool = Field(default=True, description="download the 16 kHz WAV for loudness dynamics")

    def ranker(self) -> RankerConfig:
        """The service's default ranker."""
        return RankerConfig.load(self.ranker_config, self.ranker_overrides or None)


def settings_digest(settings: Mapping[str, Any]) -> str:
    """Short stable hash of request settings (key order does not matter)."""
    blob = json.dumps(settings, sort_keys=True, separators=(",", ":"), default=str)
    return hashlib.sha256(blob.encode()).hexdigest()[:8]


def resolve_ranker(
    base: RankerConfig,
    version: str | None = None,
    settings: Mapping[str, Any] | None = None,
    versions_dir: Path | None = None,
) -> RankerConfig:
    """The ranker a ``rank.requested`` asks for.

    ``version`` None (or the default's) starts from ``base``; another version from
    ``versions_dir/<version>.yaml``. ``settings`` are deep-merged on top. A version that names
    fixed behaviour (the default or a file) gets ``+<settings hash>`` appended when settings change
    it, so one version string never stands for two different rankers (clip ids include it). A new
    version name with settings names that variant as asked. Raises :class:`UnknownRankerVersion`,
    or ``ValueError`` (pydantic) for invalid settings.
    """
    settings = dict(settings or {})
    fixed = True
    if version is None or version == base.version:
        start = base
    else:
        path = versions_dir / f"{version}.yaml" if versions_dir is not None else None
        if path is not None and path.is_file():
            start = RankerConfig.from_yaml(path).with_overrides({"version": version})
        elif settings:
            start, fixed = base.with_overrides({"version": version}), False
        else:
            raise UnknownRankerVersion(
                f"ranker version {version!r} is not configured (known: {', '.join(known_versions(base, versions_dir))})"
            )
    if not settings:
        return start
    tuned = start.with_overrides(settings)
    if fixed and "version" not in settings:
        tuned = tuned.with_overrides({"version": f"{start.version}+{settings_digest(settings)}"})
    return tuned


def known_versions(base: RankerConfig, versions_dir: Path | None) -> list[str]:
    names = [base.version]
    if versions_dir is not None and versions_dir.is_dir():
        names += sorted(p.stem for p in versions_dir.glob("*.yaml") if p.stem != base.version)
    return names


@lru_cache(maxsize=1)
def get_config() -> RankConfig:
    return RankConfig()
