"""The render service's adapter logic that needs no stack: settings, render identity, event facts."""

from __future__ import annotations

from pathlib import Path

import pytest
from clipforge_common.events import CaptionStyleData, ClipRendered, RankedClipData
from clipforge_common.ffmpeg import MediaToolError
from clipforge_render.config import RenderConfig
from clipforge_render.domain import CaptionStyle, RenderOutputs
from clipforge_render.handlers import make_handlers
from clipforge_render.main import definition
from clipforge_render.worker import (
    ClipSpan,
    best_clips,
    media_failure,
    output_keys,
    render_key,
    render_payload,
    rendered_facts,
    source_suffix,
    style_hash,
)
from pydantic import ValidationError


def test_config_defaults_and_environment(monkeypatch: pytest.MonkeyPatch) -> None:
    config = RenderConfig()
    assert (config.top_k, config.default_preset, config.sample_fps) == (3, "vertical", 1.0)
    assert config.reframe().sample_fps == 1.0
    monkeypatch.setenv("CLIPFORGE_RENDER_TOP_K", "1")
    monkeypatch.setenv("CLIPFORGE_RENDER_DEFAULT_PRESET", "square")
    monkeypatch.setenv("CLIPFORGE_RENDER_TENANTS", '["t1"]')
    monkeypatch.setenv("CLIPFORGE_RENDER_PORT", "9999")  # the platform's, not ours
    config = RenderConfig()
    assert (config.top_k, config.default_preset, config.tenants) == (1, "square", ["t1"])
    assert config.serves("t1") and not config.serves("t2")
    with pytest.raises(ValidationError, match="unknown preset"):
        RenderConfig(default_preset="portrait-8k")


def test_presets_carry_the_instance_thread_count() -> None:
    assert RenderConfig(ffmpeg_threads=3).preset("vertical").threads == 3
    auto = RenderConfig().preset("square")
    assert auto.name == "square" and auto.width == 1080 and auto.threads is not None and auto.threads >= 1
    with pytest.raises(ValueError, match="unknown preset"):
        RenderConfig().preset("portrait-8k")


def test_definition_carries_the_instance_group_and_database() -> None:
    service = definition(RenderConfig(group_id="clipforge.render.green", database="clipforge_render_green"))
    assert (service.name, service.consumer_group, service.database) == (
        "render",
        "clipforge.render.green",
        "clipforge_render_green",
    )
    assert definition(RenderConfig()).consumer_group == "clipforge.render"


def test_style_hash_identifies_what_is_drawn() -> None:
    default = CaptionStyle()
    assert style_hash(default) == style_hash(CaptionStyle.from_request(CaptionStyleData()))
    assert style_hash(default) == style_hash(CaptionStyle.model_validate(default.model_dump()))
    others = {
        style_hash(CaptionStyle(enabled=False)),
        style_hash(CaptionStyle(font_size=80)),
        style_hash(CaptionStyle(highlight_color="#00FF00")),
        style_hash(CaptionStyle(position="top")),
    }
    assert len(others) == 4 and style_hash(default) not in others
    assert render_key("c1", "vertical", default) == f"c1:vertical:{style_hash(default)}"
    assert render_key("c1", "square", default) != render_key("c1", "vertical", default)


def test_best_clips_orders_by_score_and_keeps_ties_stable() -> None:
    clips = [
        RankedClipData(clip_id=name, start=0, end=20, score=score)
        for name, score in (("a", 50), ("b", 90), ("c", 70), ("d", 90))
    ]
    assert [c.clip_id for c in best_clips(clips, 3)] == ["b", "d", "c"]
    assert best_clips(clips, 0) == [] and len(best_clips(clips, 10)) == 4


def test_payload_round_trips_the_style() -> None:
    style = CaptionStyle(font_size=64, uppercase=True)
    payload = render_payload("k", 2, "c1", "vertical", style)
    assert CaptionStyle.model_validate(payload["style"]) == style
    assert (payload["render_key"], payload["generation"], payload["clip_id"], payload["preset"]) == (
        "k",
        2,
        "c1",
        "vertical",
    )


def test_rendered_facts_make_a_valid_clip_rendered(tmp_path: Path) -> None:
    outputs = RenderOutputs(
        video_path=tmp_path / "vertical.mp4",
        thumbnail_path=tmp_path / "vertical.jpg",
        srt_path=None,
        vtt_path=None,
        duration=21.5,
        width=1080,
        height=1920,
        size=1234,
        preset="vertical",
    )
    facts = rendered_facts("c1", "vertical", outputs)
    event = ClipRendered(**facts, render_id="r1")
    assert event.video_key == "clips/c1/vertical.mp4" and event.thumbnail_key == "clips/c1/vertical.jpg"
    assert (event.srt_key, event.vtt_key) == ("clips/c1/vertical.srt", "clips/c1/vertical.vtt")
    assert (event.duration, event.width, event.height, event.size) == (21.5, 1080, 1920, 1234)
    assert set(output_keys("c1", "square").values()) == {f"clips/c1/square.{x}" for x in ("mp4", "jpg", "srt", "vtt")}


def test_source_suffix_and_failure_messages() -> None:
    assert source_suffix("videos/v1/source.mov") == ".mov"
    assert source_suffix("videos/v1/source") == ".bin"
    failure = media_failure(MediaToolError("ffmpeg exited with status 1", stderr_tail="a\nb\nInvalid data found\n"))
    assert failure.reason_code == "render_failed" and "Invalid data found" in failure.message
    assert media_failure(MediaToolError("boom")).message == "ffmpeg could not render the clip."
    span = ClipSpan("c1", 1.0, 2.0)
    assert (span.clip_id, span.start, span.end, span.title) == ("c1", 1.0, 2.0, "")


def test_handlers_cover_the_contract() -> None:
    assert set(make_handlers(RenderConfig())) == {
        "ingest.requested",
        "video.ingested",
        "clips.ranked",
        "render.requested",
        "video.deleted",
    }
