"""`--brokers 3`: a replicated KRaft cluster whose topics survive losing one broker."""

from __future__ import annotations

import asyncio
import uuid

import pytest
from aiokafka import AIOKafkaConsumer, AIOKafkaProducer
from aiokafka.admin import AIOKafkaAdminClient
from clipforge_common.settings import Settings
from clipforge_common.stack.components import Kafka
from clipforge_common.topics import TopicConfig, ensure_topics

pytestmark = pytest.mark.slow


async def test_three_broker_cluster_replicates_and_survives_one_broker_loss(tmp_path):
    settings = Settings(home=tmp_path / "home", kafka_bootstrap="127.0.0.1:39092", kafka_heap="320m")
    kafka = Kafka(settings, settings.home / "stack", brokers=3)
    try:
        await asyncio.to_thread(kafka.start)
        bootstrap = kafka.endpoint
        assert bootstrap == "127.0.0.1:39092,127.0.0.1:39192,127.0.0.1:39292"
        topic = f"test.replicated.{uuid.uuid4().hex[:8]}"
        cluster = settings.model_copy(update={"kafka_bootstrap": bootstrap})
        created = await ensure_topics(cluster, [TopicConfig(topic, 3, -1, "test", 1)])
        assert created == [topic]

        admin = AIOKafkaAdminClient(bootstrap_servers=bootstrap)
        await admin.start()
        try:
            partitions: list = []
            for _ in range(50):  # metadata of a new topic reaches every broker shortly after creation
                partitions = (await admin.describe_topics([topic]))[0]["partitions"]
                if len(partitions) == 3:
                    break
                await asyncio.sleep(0.2)
            assert len(partitions) == 3
            assert all(len(p["replicas"]) == 3 for p in partitions)  # replication factor 3 by default
        finally:
            await admin.close()

        assert await asyncio.to_thread(kafka.stop_broker, 1, kill=True)  # lose one broker abruptly

        producer = AIOKafkaProducer(bootstrap_servers=bootstrap, acks="all", enable_idempotence=True)
        await producer.start()
        try:
            for i in range(20):
                await producer.send_and_wait(topic, f"m{i}".encode(), key=f"k{i}".encode())
        finally:
            await producer.stop()

        consumer = AIOKafkaConsumer(
            topic, bootstrap_servers=bootstrap, auto_offset_reset="earliest", group_id=f"g-{uuid.uuid4().hex}"
        )
        await consumer.start()
        try:
            seen: set[bytes] = set()
            for _ in range(60):
                batch = await consumer.getmany(timeout_ms=500)
                seen.update(r.value for records in batch.values() for r in records)
                if len(seen) == 20:
                    break
        finally:
            await consumer.stop()
        assert seen == {f"m{i}".encode() for i in range(20)}  # acks=all with min ISR 2 still commits
    finally:
        await asyncio.to_thread(kafka.stop)
