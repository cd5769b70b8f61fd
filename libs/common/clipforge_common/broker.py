"""The one place a FastStream Kafka broker is built: idempotent producer, acks=all, telemetry."""

from __future__ import annotations

from typing import Any

from faststream.kafka import KafkaBroker
from faststream.kafka.opentelemetry import KafkaTelemetryMiddleware

from clipforge_common.envelope import Envelope
from clipforge_common.settings import Settings
from clipforge_common.telemetry import tracer_provider


def create_broker(settings: Settings, service: str, **extra: Any) -> KafkaBroker:
    return KafkaBroker(
        settings.kafka_servers,
        client_id=f"{settings.kafka_client_id}-{service}",
        acks="all",
        enable_idempotence=True,
        middlewares=[KafkaTelemetryMiddleware(tracer_provider=tracer_provider())],
        logger=None,
        **extra,
    )


async def publish_envelope(broker: KafkaBroker, topic: str, envelope: Envelope) -> None:
    """Publish keyed by video_id with the envelope mirrored in headers."""
    await broker.publish(
        envelope.to_bytes(),
        topic=topic,
        key=envelope.video_id.encode(),
        headers=envelope.headers(),
        correlation_id=envelope.correlation_id,
    )
