"""Consumer lag of the projector group, published as ``clipforge_consumer_lag`` in /metrics.

Lag of a partition = its end offset minus the group's committed offset (minus the beginning offset
when the group has committed nothing there yet): the records the projector still has to apply.
"""

from __future__ import annotations

import asyncio
import contextlib
from collections.abc import Mapping

import structlog
from aiokafka import AIOKafkaConsumer, TopicPartition
from aiokafka.admin import AIOKafkaAdminClient
from clipforge_common.metrics import CONSUMER_LAG
from clipforge_common.settings import Settings

log = structlog.get_logger(__name__)


def compute_lag(
    end: Mapping[TopicPartition, int], committed: Mapping[TopicPartition, int], beginning: Mapping[TopicPartition, int]
) -> dict[TopicPartition, int]:
    """Records behind per partition (never negative)."""
    out: dict[TopicPartition, int] = {}
    for tp, end_offset in end.items():
        position = committed.get(tp, -1)
        if position < 0:
            position = beginning.get(tp, 0)
        out[tp] = max(end_offset - position, 0)
    return out


class LagMonitor:
    def __init__(
        self, settings: Settings, group_id: str, topics: list[str], *, service: str = "gateway", interval: float = 15.0
    ) -> None:
        self.settings = settings
        self.group_id = group_id
        self.topics = topics
        self.service = service
        self.interval = interval
        self.last: dict[TopicPartition, int] = {}
        self._task: asyncio.Task[None] | None = None
        self._admin: AIOKafkaAdminClient | None = None
        self._consumer: AIOKafkaConsumer | None = None

    async def measure(self) -> dict[TopicPartition, int]:
        if self._admin is None:
            self._admin = AIOKafkaAdminClient(
                bootstrap_servers=self.settings.kafka_bootstrap, client_id=f"{self.settings.kafka_client_id}-lag"
            )
            await self._admin.start()
        if self._consumer is None:
            # No group: this consumer only asks for offsets, it never joins or commits.
            self._consumer = AIOKafkaConsumer(
                bootstrap_servers=self.settings.kafka_bootstrap, enable_auto_commit=False, group_id=None
            )
            await self._consumer.start()
        partitions = [
            TopicPartition(desc["topic"], part["partition"])
            for desc in await self._admin.describe_topics(self.topics)
            if not desc.get("error_code")
            for part in desc["partitions"]
        ]
        if not partitions:
            return {}
        end = await self._consumer.end_offsets(partitions)
        beginning = await self._consumer.beginning_offsets(partitions)
        committed_raw = await self._admin.list_consumer_group_offsets(self.group_id, partitions=partitions)
        committed = {tp: meta.offset for tp, meta in committed_raw.items()}
        lag = compute_lag(end, committed, beginning)
        for tp, value in lag.items():
            CONSUMER_LAG.labels(self.service, tp.topic, str(tp.partition)).set(value)
        self.last = lag
        return lag

    async def _run(self) -> None:
        while True:
            try:
                await self.measure()
            except asyncio.CancelledError:
                raise
            except Exception as exc:  # the broker may be restarting: try again next round
                log.warning("consumer lag not measured", error=str(exc), error_type=type(exc).__name__)
            await asyncio.sleep(self.interval)

    def start(self) -> None:
        self._task = asyncio.create_task(self._run(), name="consumer-lag")

    async def stop(self) -> None:
        if self._task is not None:
            self._task.cancel()
            with contextlib.suppress(asyncio.CancelledError, Exception):
                await self._task
        if self._consumer is not None:
            with contextlib.suppress(Exception):
                await self._consumer.stop()
        if self._admin is not None:
            with contextlib.suppress(Exception):
                await self._admin.close()
