"""Two gateway runtimes in-process on the real stack, isolated from everything else on it.

Each test module gets its own database, consumer group (its offsets moved to the end of every topic
first, so the projector does not replay other tests' history), Redis namespace and free ports.
Replica A runs the projector; replica B is API-only, like extra replicas behind a load balancer
(in production all replicas share one projector group, so each event is projected once anyway).
"""

from __future__ import annotations

import asyncio
import contextlib
import socket
import uuid
from collections.abc import AsyncIterator
from dataclasses import dataclass
from typing import Any

import asyncpg
import httpx
import pytest
from aiokafka import AIOKafkaConsumer, AIOKafkaProducer, TopicPartition
from clipforge_common.cache import create_redis, delete_prefix
from clipforge_common.consumer import Record
from clipforge_common.db import drop_database
from clipforge_common.envelope import Envelope, new_event_id
from clipforge_common.events import CATALOG, spec_for
from clipforge_common.service import ServiceRuntime
from clipforge_common.settings import Settings
from clipforge_gateway.config import GatewayConfig
from clipforge_gateway.keys import create_api_key
from clipforge_gateway.main import definition


class GatewayTestSettings(Settings):
    """Platform settings with the gateway's database renamed (the runtime asks database_for)."""

    test_database: str = ""

    def database_for(self, service: str) -> str:
        return self.test_database or super().database_for(service)


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


async def commit_group_at_end(settings: Settings, group_id: str, topics: list[str]) -> None:
    consumer = AIOKafkaConsumer(bootstrap_servers=settings.kafka_bootstrap, group_id=group_id, enable_auto_commit=False)
    await consumer.start()
    try:
        partitions = [TopicPartition(t, p) for t in topics for p in range(settings.kafka_partitions)]
        consumer.assign(partitions)
        end = await consumer.end_offsets(partitions)
        await consumer.commit(dict(end.items()))
    finally:
        await consumer.stop()


@dataclass
class Replica:
    runtime: ServiceRuntime
    url: str

    @property
    def ws_url(self) -> str:
        return self.url.replace("http://", "ws://")


@dataclass
class GatewayPair:
    a: Replica  # projector + API
    b: Replica  # API only
    settings: Settings
    namespace: str
    group_id: str
    producer: AIOKafkaProducer

    @property
    def pool(self) -> asyncpg.Pool:
        assert self.a.runtime.pool is not None
        return self.a.runtime.pool

    async def new_key(self, tenant: str, rate_limit_per_minute: int | None = None) -> str:
        return await create_api_key(self.pool, tenant, rate_limit_per_minute=rate_limit_per_minute)

    async def publish(self, envelope: Envelope) -> None:
        """Straight to Kafka, as another service would."""
        await self.producer.send_and_wait(
            spec_for(envelope.event_type, envelope.event_version).topic,
            envelope.to_bytes(),
            key=envelope.video_id.encode(),
            headers=[(k, v.encode()) for k, v in envelope.headers().items()],
        )

    async def project(self, envelope: Envelope) -> str:
        """Hand one record to replica A's consumer (the same path as a Kafka delivery, minus the broker).

        Used for the events that would make other services running on the shared stack react.
        """
        assert self.a.runtime.consumer is not None
        record = Record(
            topic=spec_for(envelope.event_type, envelope.event_version).topic,
            partition=0,
            offset=0,
            key=envelope.video_id.encode(),
            value=envelope.to_bytes(),
            headers=envelope.headers(),
        )
        return await self.a.runtime.consumer.handle(record)


def event(event_type: str, video_id: str, tenant_id: str, data: dict[str, Any], producer: str = "test@0") -> Envelope:
    return Envelope(
        event_type=event_type,
        event_version=1,
        producer=producer,
        tenant_id=tenant_id,
        video_id=video_id,
        correlation_id=new_event_id(),
        data=data,
    )


async def _start(settings: Settings, config: GatewayConfig, group_id: str) -> Replica:
    runtime = ServiceRuntime(definition(config, group_id=group_id), settings)
    await runtime.start()
    url = f"http://127.0.0.1:{settings.gateway_port}"
    async with httpx.AsyncClient() as client:
        for _ in range(200):  # guards against hanging only
            try:
                if (await client.get(f"{url}/healthz")).status_code == 200:
                    break
            except httpx.TransportError:
                pass
            await asyncio.sleep(0.05)
    return Replica(runtime, url)


MAX_UPLOAD = 20 * 1024 * 1024


@contextlib.asynccontextmanager
async def gateway_pair(stack: Settings, label: str, **config: Any) -> AsyncIterator[GatewayPair]:
    """A projector replica and an API-only replica with their own database, group and namespace."""
    unique = uuid.uuid4().hex[:10]
    database = f"clipforge_{label}_{unique}"
    namespace = f"{label}{unique}:"
    group_id = f"clipforge.gateway.{label}.{unique}"
    base = {
        **stack.model_dump(),
        "test_database": database,
        "log_level": "WARNING",
        "outbox_poll_seconds": 0.05,
        "job_poll_seconds": 0.2,
    }
    settings_a = GatewayTestSettings(**{**base, "gateway_port": free_port()})
    settings_b = GatewayTestSettings(**{**base, "gateway_port": free_port()})
    common = {"redis_namespace": namespace, "lag_interval_seconds": 0.5, **config}
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
            await delete_prefix(redis, namespace)
        finally:
            await redis.aclose()
        await drop_database(stack, database)


@pytest.fixture(scope="module")
async def gateways(stack: Settings) -> AsyncIterator[GatewayPair]:
    async with gateway_pair(stack, "gwtest", max_upload_bytes=MAX_UPLOAD) as pair:
        yield pair


@dataclass
class Tenant:
    name: str
    key: str
    client: httpx.AsyncClient  # against replica A
    client_b: httpx.AsyncClient  # against replica B

    @property
    def headers(self) -> dict[str, str]:
        return {"Authorization": f"Bearer {self.key}"}


@pytest.fixture
async def tenant_factory(gateways: GatewayPair) -> AsyncIterator[Any]:
    clients: list[httpx.AsyncClient] = []

    async def make(rate_limit_per_minute: int | None = None) -> Tenant:
        name = f"tenant-{uuid.uuid4().hex[:8]}"
        key = await gateways.new_key(name, rate_limit_per_minute)
        headers = {"Authorization": f"Bearer {key}"}
        a = httpx.AsyncClient(base_url=gateways.a.url, headers=headers, timeout=60)
        b = httpx.AsyncClient(base_url=gateways.b.url, headers=headers, timeout=60)
        clients.extend([a, b])
        return Tenant(name, key, a, b)

    yield make
    for client in clients:
        await client.aclose()


async def eventually(check: Any, *, timeout: float = 30.0, interval: float = 0.02) -> Any:
    """Poll ``check()`` until it returns something truthy; the timeout only guards against hanging."""
    loop = asyncio.get_running_loop()
    deadline = loop.time() + timeout
    while True:
        value = await check()
        if value:
            return value
        if loop.time() > deadline:
            raise AssertionError(f"condition not met within {timeout} s")
        await asyncio.sleep(interval)
