"""An envelope published through the broker factory arrives intact at another consumer group."""

from __future__ import annotations

from aiokafka.partitioner import murmur2
from clipforge_common.broker import create_broker, publish_envelope
from clipforge_common.envelope import Envelope, headers_to_envelope_fields
from clipforge_common.events import spec_for
from clipforge_common.outbox import new_event
from clipforge_common.topics import ensure_topics

from .kafka_helpers import read_topic


async def test_envelope_roundtrip_keeps_fields_headers_key_and_partition(stack, unique):
    await ensure_topics(stack)
    spec = spec_for("video.ingested", 1)
    event = new_event(
        "video.ingested",
        {
            "duration": 61.5,
            "width": 640,
            "height": 360,
            "fps": 25.0,
            "video_codec": "h264",
            "audio_codec": "aac",
            "size": 1234,
            "sha256": "ab" * 32,
            "source_key": f"videos/{unique}/source.mp4",
            "audio_key": f"videos/{unique}/audio.wav",
        },
        producer="test@0",
        tenant_id="tenant-a",
        video_id=f"video-{unique}",
        correlation_id=f"corr-{unique}",
        causation_id=f"cause-{unique}",
    )
    broker = create_broker(stack, "test")
    await broker.start()
    try:
        await publish_envelope(broker, spec.topic, event)
    finally:
        await broker.stop()

    records = await read_topic(stack, spec.topic, until=lambda rs: any(r.key == event.video_id.encode() for r in rs))
    mine = [r for r in records if r.key == event.video_id.encode()]
    assert len(mine) == 1
    record = mine[0]
    received = Envelope.from_bytes(record.value)
    assert received == event  # every envelope field, data included
    headers = {k: v for k, v in record.headers}
    from_headers = headers_to_envelope_fields(headers)
    assert from_headers["event_id"] == event.event_id
    assert from_headers["event_type"] == "video.ingested"
    assert from_headers["event_version"] == "1"
    assert from_headers["tenant_id"] == "tenant-a"
    assert from_headers["video_id"] == event.video_id
    assert from_headers["correlation_id"] == event.correlation_id
    assert from_headers["causation_id"] == event.causation_id
    assert from_headers["producer"] == "test@0"
    assert "traceparent" in headers  # W3C trace context travels with the record
    expected_partition = (murmur2(event.video_id.encode()) & 0x7FFFFFFF) % stack.kafka_partitions
    assert record.partition == expected_partition
