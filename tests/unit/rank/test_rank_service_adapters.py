"""The rank service's adapter logic that needs no stack: settings, ranker resolution, event mapping."""

from __future__ import annotations

from pathlib import Path

import pytest
from clipforge_common.events import ClipsRanked
from clipforge_common.transcript import Transcript
from clipforge_rank.config import (
    RankConfig,
    UnknownRankerVersion,
    resolve_ranker,
    settings_digest,
)
from clipforge_rank.domain import RankerConfig, rank_transcript
from clipforge_rank.handlers import make_handlers
from clipforge_rank.main import definition
from clipforge_rank.worker import clips_ranked, no_candidates_message, rank_payload
from pydantic import ValidationError


def test_config_reads_ranker_overrides_and_tenants_from_the_environment(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("CLIPFORGE_RANK_RANKER_OVERRIDES", '{"max_seconds": 60, "weights": {"hook": 0.5}}')
    monkeypatch.setenv("CLIPFORGE_RANK_TENANTS", "t1, t2")
    monkeypatch.setenv("CLIPFORGE_RANK_GROUP_ID", "clipforge.rank.blue")
    config = RankConfig()
    ranker = config.ranker()
    assert ranker.max_seconds == 60 and ranker.weights.hook == 0.5 and ranker.min_seconds == 15
    assert config.tenants == ["t1", "t2"] and config.serves("t2") and not config.serves("t3")
    assert config.group_id == "clipforge.rank.blue"
    assert RankConfig(tenants=[]).serves("anyone")


def test_config_reads_a_ranker_yaml(tmp_path: Path) -> None:
    path = tmp_path / "ranker.yaml"
    path.write_text("version: house-v3\ntarget_seconds: 40\n")
    ranker = RankConfig(ranker_config=path, ranker_overrides={"max_seconds": 80}).ranker()
    assert (ranker.version, ranker.target_seconds, ranker.max_seconds) == ("house-v3", 40, 80)


def test_default_version_without_settings_is_the_base() -> None:
    base = RankerConfig()
    assert resolve_ranker(base) is base
    assert resolve_ranker(base, base.version, {}) is base


def test_settings_on_a_fixed_version_get_a_digest_suffix() -> None:
    base = RankerConfig()
    tuned = resolve_ranker(base, None, {"max_seconds": 30, "target_seconds": 20})
    assert tuned.max_seconds == 30
    assert tuned.version == f"{base.version}+{settings_digest({'target_seconds': 20, 'max_seconds': 30})}"
    # Same settings in another order: the same ranker version (and so the same clip ids).
    assert resolve_ranker(base, base.version, {"target_seconds": 20, "max_seconds": 30}).version == tuned.version
    assert resolve_ranker(base, None, {"max_seconds": 31, "target_seconds": 20}).version != tuned.version
    # An explicit version inside the settings wins.
    assert resolve_ranker(base, None, {"version": "mine", "max_seconds": 30, "target_seconds": 20}).version == "mine"


def test_versions_from_files_and_named_variants(tmp_path: Path) -> None:
    base = RankerConfig()
    (tmp_path / "long-v1.yaml").write_text("min_seconds: 30\ntarget_seconds: 60\nmax_seconds: 120\n")
    long = resolve_ranker(base, "long-v1", {}, tmp_path)
    assert (long.version, long.max_seconds) == ("long-v1", 120)
    assert resolve_ranker(base, "long-v1", {"max_seconds": 100}, tmp_path).version.startswith("long-v1+")
    named = resolve_ranker(base, "short-v1", {"max_seconds": 30, "target_seconds": 20}, tmp_path)
    assert (named.version, named.max_seconds) == ("short-v1", 30)
    with pytest.raises(UnknownRankerVersion, match="long-v1"):
        resolve_ranker(base, "nope", {}, tmp_path)


def test_invalid_settings_raise() -> None:
    with pytest.raises(ValidationError):
        resolve_ranker(RankerConfig(), None, {"min_seconds": 40, "max_seconds": 20})
    with pytest.raises(ValidationError):
        resolve_ranker(RankerConfig(), None, {"no_such_knob": 1})


def test_an_instance_can_name_its_own_database() -> None:
    assert definition(RankConfig()).database is None
    assert definition(RankConfig(database="clipforge_rank_blue")).database == "clipforge_rank_blue"


def test_clips_ranked_carries_every_clip_best_first(three_topics: Transcript) -> None:
    result = rank_transcript(three_topics, video_id="vid-1")
    event = clips_ranked(result, "transcripts/vid-1.json")
    assert isinstance(event, ClipsRanked)
    assert event.ranker_version == result.ranker_version and event.transcript_key == "transcripts/vid-1.json"
    assert [c.clip_id for c in event.clips] == [c.clip_id for c in result.clips]
    first, source = event.clips[0], result.clips[0]
    assert (first.start, first.end, first.score, first.title, first.hook) == (
        source.start,
        source.end,
        source.score,
        source.title,
        source.hook,
    )
    assert first.features == source.features and first.reasons == source.reasons


def test_no_candidates_message_says_why(three_topics: Transcript) -> None:
    empty = three_topics.model_copy(update={"sentences": [], "words": []})
    assert "no sentences" in no_candidates_message(RankerConfig(), empty)
    text = no_candidates_message(RankerConfig(min_seconds=20, target_seconds=30, max_seconds=40), three_topics)
    assert "20-40 s" in text


def test_payload_and_handlers() -> None:
    assert rank_payload("t.json", None, {"a": 1}) == {
        "transcript_key": "t.json",
        "ranker_version": None,
        "settings": {"a": 1},
    }
    handlers = make_handlers(RankConfig())
    assert set(handlers) == {"video.ingested", "transcript.completed", "rank.requested", "video.deleted"}
