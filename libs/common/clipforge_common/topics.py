"""Topic layout (schemas/topics.yaml) and idempotent topic creation."""

from __future__ import annotations

import contextlib
from dataclasses import dataclass
from typing import Any

import structlog
from aiokafka.admin import AIOKafkaAdminClient, NewTopic
from aiokafka.errors import TopicAlreadyExistsError

from clipforge_common.events import CATALOG
from clipforge_common.settings import Settings

log = structlog.get_logger(__name__)

DLQ_RETENTION_MS = -1  # dead letters are kept until an operator redrives or drops them


@dataclass(frozen=True)
class TopicConfig:
    name: str
    partitions: int
    retention_ms: int
    event_type: str
    version: int
    dlq: bool = False

    def as_dict(self) -> dict[str, Any]:
        return {
            "name": self.name,
            "event_type": self.event_type,
            "version": self.version,
            "partitions": self.partitions,
            "retention_ms": self.retention_ms,
            "dlq": self.dlq,
        }


def topic_layout(partitions: int = 6) -> list[TopicConfig]:
    out: list[TopicConfig] = []
    for spec in CATALOG:
        out.append(TopicConfig(spec.topic, partitions, spec.retention_ms, spec.event_type, spec.version))
        out.append(TopicConfig(spec.dlq_topic, partitions, DLQ_RETENTION_MS, spec.event_type, spec.version, dlq=True))
    return out


async def ensure_topics(settings: Settings, topics: list[TopicConfig] | None = None) -> list[str]:
    """Create missing topics; existing ones are left as they are. Returns the names created."""
    topics = topics or topic_layout(settings.kafka_partitions)
    admin = AIOKafkaAdminClient(bootstrap_servers=settings.kafka_bootstrap, client_id=settings.kafka_client_id)
    await admin.start()
    try:
        existing = set(await admin.list_topics())
        wanted = [t for t in topics if t.name not in existing]
        if not wanted:
            return []
        replication = settings.kafka_replication_factor
        if replication is None:
            brokers = (await admin.describe_cluster()).get("brokers", [])
            replication = max(1, min(3, len(brokers)))
        new = [
            NewTopic(
                name=t.name,
                num_partitions=t.partitions,
                replication_factor=replication,
                topic_configs={"retention.ms": str(t.retention_ms), "cleanup.policy": "delete"},
            )
            for t in wanted
        ]
        # A concurrent start-up may create them first.
        with contextlib.suppress(TopicAlreadyExistsError):
            await admin.create_topics(new)
        created = [t.name for t in wanted]
        log.info("topics created", topics=created)
        return created
    finally:
        await admin.close()
