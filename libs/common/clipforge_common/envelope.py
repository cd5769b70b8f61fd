"""The event envelope every ClipForge record carries, in the body and mirrored in Kafka headers.

Headers let tracing, dedupe and routing work without decoding the body; the body is the source of
truth. ``data`` is kept as a plain dict here and validated against the payload model of
(event_type, event_version) by :func:`clipforge_common.events.parse_data`.
"""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Any

import uuid6
from pydantic import BaseModel, ConfigDict, Field, field_validator

ENVELOPE_HEADER_FIELDS: tuple[str, ...] = (
    "event_id",
    "event_type",
    "event_version",
    "occurred_at",
    "producer",
    "tenant_id",
    "video_id",
    "correlation_id",
    "causation_id",
)
HEADER_PREFIX = "cf-"


def new_event_id() -> str:
    """UUIDv7: time-ordered, so ids sort by creation and index well."""
    return str(uuid6.uuid7())


def utcnow() -> datetime:
    return datetime.now(UTC)


class Envelope(BaseModel):
    model_config = ConfigDict(extra="forbid")

    event_id: str = Field(default_factory=new_event_id, description="UUIDv7, unique per event")
    event_type: str = Field(examples=["video.ingested"])
    event_version: int = Field(ge=1, description="major version of the payload schema")
    occurred_at: datetime = Field(default_factory=utcnow, description="UTC")
    producer: str = Field(description="service@version that produced the event", examples=["ingest@0.1.0"])
    tenant_id: str
    video_id: str = Field(description="partition key: every event of a video keeps its order")
    correlation_id: str = Field(description="one per user request, carried through the whole pipeline")
    causation_id: str | None = Field(default=None, description="event_id of the event this one answers")
    data: dict[str, Any] = Field(default_factory=dict)

    @field_validator("occurred_at")
    @classmethod
    def _utc(cls, value: datetime) -> datetime:
        if value.tzinfo is None:
            return value.replace(tzinfo=UTC)
        return value.astimezone(UTC)

    def to_bytes(self) -> bytes:
        return self.model_dump_json().encode()

    @classmethod
    def from_bytes(cls, raw: bytes | str) -> Envelope:
        return cls.model_validate_json(raw)

    def headers(self) -> dict[str, str]:
        """Envelope fields as Kafka headers (``cf-event-id`` …); empty values are left out."""
        out: dict[str, str] = {}
        for name in ENVELOPE_HEADER_FIELDS:
            value = getattr(self, name)
            if value is None:
                continue
            text = value.isoformat() if isinstance(value, datetime) else str(value)
            out[HEADER_PREFIX + name.replace("_", "-")] = text
        return out

    def answer(self, event_type: str, event_version: int, data: BaseModel | dict[str, Any], producer: str) -> Envelope:
        """A new event caused by this one: same tenant, video and correlation, causation = this id."""
        payload = data.model_dump(mode="json") if isinstance(data, BaseModel) else data
        return Envelope(
            event_type=event_type,
            event_version=event_version,
            producer=producer,
            tenant_id=self.tenant_id,
            video_id=self.video_id,
            correlation_id=self.correlation_id,
            causation_id=self.event_id,
            data=payload,
        )


def headers_to_envelope_fields(headers: dict[str, Any]) -> dict[str, str]:
    """Read back the envelope fields from Kafka headers (bytes or str values)."""
    out: dict[str, str] = {}
    for name in ENVELOPE_HEADER_FIELDS:
        key = HEADER_PREFIX + name.replace("_", "-")
        if key in headers:
            value = headers[key]
            out[name] = value.decode() if isinstance(value, bytes) else str(value)
    return out
