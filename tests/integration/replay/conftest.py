"""A gateway pair (projector + API-only replica) isolated on the shared stack, following projection switches fast.

Built like tests/integration/gateway/conftest.py (its own database, base consumer group moved to the
end of every topic, Redis namespace, free ports), with the replicas polling the active-projection
pointer every 0.2 s.
"""

from __future__ import annotations

import uuid
from collections.abc import AsyncIterator

import asyncpg
import pytest
from aiokafka import AIOKafkaProducer
from clipforge_common.cache import create_redis
from clipforge_common.events import CATALOG
from clipforge_common.settings import Settings
from clipforge_gateway.config import GatewayConfig

from tests.integration.gateway.conftest import (
    GatewayPair,
    GatewayTestSettings,
    _start,
    commit_group_at_end,
    free_port,
    tenant_factory,
)

__all__ = ["gateways", "tenant_factory"]


@pytest.fixture(scope="module")
async def gateways(stack: Settings) -> AsyncIterator[GatewayPair]:
    unique = uuid.uuid4().hex[:10]
    database = f"clipforge_replaytest_{unique}"
    namespace = f"replaytest{unique}:"
    group_id = f"clipforge.gateway.replaytest.{unique}"
    base = {**stack.model_dump(), "test_database": database, "log_level": "WARNING", "outbox_poll_seconds": 0.05}
    settings_a = GatewayTestSettings(**{**base, "gateway_port": free_port()})
    settings_b = GatewayTestSettings(**{**base, "gateway_port": free_port()})
    common = {"redis_namespace": namespace, "lag_interval_seconds": 0.5, "projection_poll_seconds": 0.2}
    await commit_group_at_end(stack, group_id, sorted({spec.topic for spec in CATALOG}))
    a = await _start(settings_a, GatewayConfig(**common), group_id)
    b = await _start(settings_b, GatewayConfig(**common, projector_enabled=False), group_id)
    producer = AIOKafkaProducer(bootstrap_servers=stack.kafka_bootstrap, acks="all", enable_idempotence=True)
    await producer.start()
    try:
        yield GatewayPair(a=a, b=b, settings=settings_a, namespace=namespace, group_id=group_id, producer=producer)
    finally:
        await producer.stop()
        await b.runtime.stop()
        await a.runtime.stop()
        redis = create_redis(stack)
        try:
            keys = [k async for k in redis.scan_iter(match=f"{namespace}*", count=500)]
            if keys:
                await redis.delete(*keys)
        finally:
            await redis.aclose()
        conn = await asyncpg.connect(stack.pg_dsn("postgres"))
        try:
            await conn.execute(f'DROP DATABASE IF EXISTS "{database}" WITH (FORCE)')
        finally:
            await conn.close()
