"""The envelope (body ↔ bytes ↔ headers) and every catalog payload with realistic examples."""

from __future__ import annotations

import json
import time
import uuid
from datetime import UTC, datetime, timedelta, timezone
from typing import Any

import pytest
from clipforge_common.contract import event_schema
from clipforge_common.envelope import (
    ENVELOPE_HEADER_FIELDS,
    Envelope,
    headers_to_envelope_fields,
    new_event_id,
)
from clipforge_common.events import CATALOG, parse_data, spec_for
from clipforge_common.events.v1 import TranscriptCompleted
from jsonschema import Draft202012Validator
from pydantic import ValidationError

VIDEO = "0190f5b2-0000-7000-8000-00000000a1b2"


def _envelope(**overrides: Any) -> Envelope:
    fields: dict[str, Any] = {
        "event_type": "video.ingested",
        "event_version": 1,
        "producer": "ingest@0.1.0",
        "tenant_id": "tenant_acme",
        "video_id": VIDEO,
        "correlation_id": "req_7f3a",
        "data": GOOD["video.ingested"],
    }
    fields.update(overrides)
    return Envelope(**fields)


# --------------------------------------------------------------------------------- envelope


def test_round_trip_bytes_model() -> None:
    env = _envelope(causation_id=new_event_id())
    raw = env.to_bytes()
    assert isinstance(raw, bytes)
    back = Envelope.from_bytes(raw)
    assert back == env
    assert Envelope.from_bytes(raw.decode()) == env
    body = json.loads(raw)
    assert set(body) == set(Envelope.model_fields)
    assert body["data"] == GOOD["video.ingested"]


def test_unknown_envelope_fields_are_rejected() -> None:
    body = json.loads(_envelope().to_bytes())
    body["surprise"] = 1
    with pytest.raises(ValidationError):
        Envelope.model_validate(body)


def test_headers_mirror_every_field() -> None:
    env = _envelope(causation_id=new_event_id())
    headers = env.headers()
    expected = {
        "cf-event-id": env.event_id,
        "cf-event-type": "video.ingested",
        "cf-event-version": "1",
        "cf-occurred-at": env.occurred_at.isoformat(),
        "cf-producer": "ingest@0.1.0",
        "cf-tenant-id": "tenant_acme",
        "cf-video-id": VIDEO,
        "cf-correlation-id": "req_7f3a",
        "cf-causation-id": env.causation_id,
    }
    assert headers == expected
    assert len(expected) == len(ENVELOPE_HEADER_FIELDS)
    # Kafka hands headers back as bytes; every field reads back and rebuilds the same envelope.
    as_bytes = {k: v.encode() for k, v in headers.items()}
    fields = headers_to_envelope_fields(as_bytes)
    assert fields == {
        name: str(getattr(env, name)) if name != "occurred_at" else env.occurred_at.isoformat()
        for name in ENVELOPE_HEADER_FIELDS
    }
    assert Envelope(**fields, data=env.data) == env


def test_missing_causation_is_left_out_of_headers() -> None:
    headers = _envelope().headers()
    assert "cf-causation-id" not in headers
    assert "causation_id" not in headers_to_envelope_fields(headers)


def test_event_id_is_uuid7_and_time_ordered() -> None:
    before_ms = time.time_ns() // 1_000_000
    ids = [_envelope().event_id for _ in range(300)]
    for value in ids:
        parsed = uuid.UUID(value)
        assert parsed.version == 7
        assert parsed.variant == uuid.RFC_4122
        assert value[14] == "7", "version nibble"
    assert len(set(ids)) == len(ids)
    assert ids == sorted(ids), "UUIDv7 strings sort in creation order"
    assert [uuid.UUID(i).int for i in ids] == sorted(uuid.UUID(i).int for i in ids)
    # The first 48 bits are the Unix time in milliseconds.
    first_ms = uuid.UUID(ids[0]).int >> 80
    assert before_ms <= first_ms <= before_ms + 5_000


def test_occurred_at_is_utc() -> None:
    assert _envelope().occurred_at.utcoffset() == timedelta(0)
    paris = datetime(2025, 3, 1, 12, 0, tzinfo=timezone(timedelta(hours=1)))
    env = _envelope(occurred_at=paris)
    assert env.occurred_at.tzinfo is not None and env.occurred_at.utcoffset() == timedelta(0)
    assert env.occurred_at == datetime(2025, 3, 1, 11, 0, tzinfo=UTC)
    naive = _envelope(occurred_at=datetime(2025, 3, 1, 12, 0))
    assert naive.occurred_at == datetime(2025, 3, 1, 12, 0, tzinfo=UTC), "naive times are taken as UTC"
    back = Envelope.from_bytes(env.to_bytes())
    assert back.occurred_at.utcoffset() == timedelta(0)
    assert env.headers()["cf-occurred-at"].endswith("+00:00")


def test_answer_keeps_the_chain() -> None:
    cause = _envelope(causation_id=new_event_id())
    data = TranscriptCompleted.model_validate(GOOD["transcript.completed"])
    reply = cause.answer("transcript.completed", 1, data, producer="transcribe@0.1.0")
    assert reply.tenant_id == cause.tenant_id
    assert reply.video_id == cause.video_id
    assert reply.correlation_id == cause.correlation_id
    assert reply.causation_id == cause.event_id
    assert reply.event_id != cause.event_id and reply.event_id > cause.event_id
    assert reply.event_type == "transcript.completed" and reply.event_version == 1
    assert reply.producer == "transcribe@0.1.0"
    assert reply.data == data.model_dump(mode="json")
    assert parse_data(reply.event_type, reply.event_version, reply.data) == data
    # A plain dict is accepted as is.
    assert cause.answer("rank.failed", 1, GOOD["rank.failed"], producer="rank@0.1.0").data == GOOD["rank.failed"]


# --------------------------------------------------------------------------------- payloads

GOOD: dict[str, dict[str, Any]] = {
    "ingest.requested": {
        "project_id": "proj_01",
        "source": {"kind": "upload", "key": f"videos/{VIDEO}/source.mp4", "filename": "keynote.mp4"},
        "options": {"language": "en", "top_k": 5, "preset": "vertical"},
    },
    "video.ingested": {
        "duration": 1834.2,
        "width": 1920,
        "height": 1080,
        "fps": 29.97,
        "video_codec": "h264",
        "audio_codec": "aac",
        "container": "mov,mp4,m4a,3gp,3g2,mj2",
        "size": 734_003_200,
        "sha256": "9f86d081884c7d659a2feaa0c55ad015a3bf4f1b2b0b822cd15d6c15b0f00a08",
        "source_key": f"videos/{VIDEO}/source.mp4",
        "audio_key": f"videos/{VIDEO}/audio.wav",
    },
    "video.ingest_failed": {"reason_code": "no_audio_track", "message": "The file has no audio track to transcribe."},
    "transcript.completed": {
        "transcript_key": f"transcripts/{VIDEO}.json",
        "engine": "pocketsphinx",
        "engine_version": "5.0.3",
        "language": "en",
        "word_count": 4211,
        "sentence_count": 287,
        "duration": 1834.2,
    },
    "transcript.failed": {"reason_code": "asr_engine_error", "message": "Speech recognition crashed; retry later."},
    "rank.requested": {"ranker_version": "heuristic-1.2", "settings": {"min_len": 20.0, "max_len": 60.0}},
    "clips.ranked": {
        "ranker_version": "heuristic-1.2",
        "transcript_key": f"transcripts/{VIDEO}.json",
        "clips": [
            {
                "clip_id": "clip_01",
                "start": 312.4,
                "end": 351.9,
                "score": 87.5,
                "features": {"hook": 0.9, "sentiment": 0.4, "pace": 0.7},
                "reasons": ["opens with a question", "one complete idea"],
                "title": "Why most demos fail",
                "hook": "Here is the mistake everyone makes…",
            }
        ],
    },
    "rank.failed": {"reason_code": "transcript_missing", "message": "The transcript object was not found."},
    "render.requested": {
        "clip_id": "clip_01",
        "preset": "vertical",
        "caption_style": {
            "font_size": 64,
            "primary_color": "#FFFFFF",
            "highlight_color": "#FFD400",
            "position": "bottom",
        },
        "render_id": "render_01",
    },
    "clip.rendered": {
        "clip_id": "clip_01",
        "preset": "vertical",
        "video_key": "clips/clip_01/vertical.mp4",
        "thumbnail_key": "clips/clip_01/vertical.jpg",
        "srt_key": "clips/clip_01/vertical.srt",
        "vtt_key": "clips/clip_01/vertical.vtt",
        "duration": 39.5,
        "width": 1080,
        "height": 1920,
        "size": 8_388_608,
        "render_id": "render_01",
    },
    "clip.render_failed": {
        "clip_id": "clip_01",
        "preset": "vertical",
        "reason_code": "ffmpeg_failed",
        "message": "ffmpeg exited with status 1 while encoding.",
    },
    "video.deleted": {"reason": "user request"},
    "pipeline.progress": {"stage": "transcribe", "percent": 42.5, "message": "transcribing audio"},
}

BAD: dict[str, dict[str, Any]] = {
    "ingest.requested": {"project_id": "proj_01", "source": {"kind": "ftp", "url": "ftp://example.com/a.mp4"}},
    "video.ingested": {"duration": -3, "size": 10, "sha256": "x", "source_key": "k", "audio_key": "a"},
    "video.ingest_failed": {"message": "no reason code"},
    "transcript.completed": {
        "transcript_key": "k",
        "engine": "x",
        "engine_version": "1",
        "language": "en",
        "word_count": -1,
        "duration": 1,
    },
    "transcript.failed": {"reason_code": "asr_engine_error"},
    "rank.requested": {"settings": "fast please"},
    "clips.ranked": {"ranker_version": "h", "clips": [{"clip_id": "c", "start": 1, "end": 2, "score": 150}]},
    "rank.failed": {"reason_code": 42, "message": None},
    "render.requested": {"clip_id": "clip_01", "preset": "vertical", "caption_style": {"position": "sideways"}},
    "clip.rendered": {"clip_id": "clip_01", "preset": "vertical"},
    "clip.render_failed": {"reason_code": "ffmpeg_failed", "message": "boom"},
    "video.deleted": {"reason": 42},
    "pipeline.progress": {"stage": "render", "percent": 140},
}


def test_every_catalog_event_has_examples() -> None:
    types = {s.event_type for s in CATALOG}
    assert set(GOOD) == types, "add a realistic example for every new event type"
    assert set(BAD) == types


@pytest.mark.parametrize("spec", CATALOG, ids=lambda s: f"{s.event_type}.v{s.version}")
def test_payload_accepts_a_realistic_example(spec) -> None:
    model = spec.model.model_validate(GOOD[spec.event_type])
    # What a producer writes reads back identically.
    assert spec.model.model_validate(model.model_dump(mode="json")) == model
    # The full record validates against the generated JSON Schema too (models and schemas agree).
    env = _envelope(event_type=spec.event_type, event_version=spec.version, data=model.model_dump(mode="json"))
    Draft202012Validator(event_schema(spec)).validate(json.loads(env.to_bytes()))
    assert spec_for(spec.event_type, spec.version) is spec


@pytest.mark.parametrize("spec", CATALOG, ids=lambda s: f"{s.event_type}.v{s.version}")
def test_payload_rejects_an_obviously_bad_example(spec) -> None:
    with pytest.raises(ValidationError):
        spec.model.model_validate(BAD[spec.event_type])
    env = _envelope(event_type=spec.event_type, event_version=spec.version, data=BAD[spec.event_type])
    assert not Draft202012Validator(event_schema(spec)).is_valid(json.loads(env.to_bytes()))


def test_schema_pins_type_and_version() -> None:
    spec = spec_for("video.ingested", 1)
    body = json.loads(_envelope().to_bytes())
    validator = Draft202012Validator(event_schema(spec))
    assert validator.is_valid(body)
    assert not validator.is_valid({**body, "event_type": "clips.ranked"})
    assert not validator.is_valid({**body, "event_version": 2})
    assert not validator.is_valid({k: v for k, v in body.items() if k != "event_id"})
