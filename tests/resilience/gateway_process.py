"""A real gateway process (``python -m clipforge_gateway``) on the real stack, for tests that attack it
from outside: its own database, Redis namespace, consumer group and port, its log captured to a file.

It runs API-only (no projector), so it joins no consumer group and other tests' events pass it by; what
it writes (projects, videos, ``ingest.requested`` in its outbox) belongs to tenants created here.
"""

from __future__ import annotations

import asyncio
import contextlib
import threading
import uuid
from collections.abc import Coroutine, Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any, TypeVar

import asyncpg
import httpx
import pytest
from clipforge_common.cache import create_redis, delete_prefix
from clipforge_common.db import create_pool, drop_database
from clipforge_common.settings import Settings
from clipforge_gateway.keys import create_api_key

from tests.integration.common.clip_services import ServiceProcess, tenant_service

MAX_UPLOAD = 8 * 1024 * 1024

T = TypeVar("T")


def run_async(coro: Coroutine[Any, Any, T]) -> T:
    """Run ``coro`` to completion on a fresh loop in a thread of its own (safe from sync fixtures and tests,
    whatever loop pytest-asyncio keeps for the session)."""
    result: list[T] = []
    error: list[BaseException] = []

    def target() -> None:
        try:
            result.append(asyncio.run(coro))
        except BaseException as exc:
            error.append(exc)

    thread = threading.Thread(target=target, name="run-async")
    thread.start()
    thread.join()
    if error:
        raise error[0]
    return result[0]


@dataclass
class GatewayProcess:
    service: ServiceProcess
    settings: Settings
    namespace: str

    @property
    def url(self) -> str:
        return self.service.base_url

    @property
    def ws_url(self) -> str:
        return self.url.replace("http://", "ws://")

    @property
    def database(self) -> str:
        return self.service.database

    def alive(self) -> bool:
        return self.service.proc is not None and self.service.proc.poll() is None

    def log_text(self) -> str:
        return self.service.log_path.read_text(errors="replace") if self.service.log_path.exists() else ""

    async def new_key(self, tenant: str | None = None, rate_limit_per_minute: int | None = None) -> str:
        pool = await create_pool(self.settings, self.database)
        try:
            name = tenant or f"tenant-{uuid.uuid4().hex[:8]}"
            return await create_api_key(pool, name, rate_limit_per_minute=rate_limit_per_minute)
        finally:
            await pool.close()

    async def query(self, sql: str, *args: object) -> list[asyncpg.Record]:
        conn = await asyncpg.connect(self.settings.pg_dsn(self.database))
        try:
            return list(await conn.fetch(sql, *args))
        finally:
            await conn.close()

    def health(self) -> tuple[int, int]:
        """(/healthz, /readyz) statuses."""
        with httpx.Client(base_url=self.url, timeout=30) as client:
            return client.get("/healthz").status_code, client.get("/readyz").status_code


def start_gateway(settings: Settings, log_dir: Path, *, log_level: str = "INFO", **extra: str) -> GatewayProcess:
    namespace = f"gwproc{uuid.uuid4().hex[:10]}:"
    service = tenant_service(
        "gateway",
        settings,
        log_dir,
        "",  # no tenant filter (it only matters to a projector, and this one runs none)
        CLIPFORGE_GATEWAY_PROJECTOR_ENABLED="false",
        CLIPFORGE_GATEWAY_REDIS_NAMESPACE=namespace,
        CLIPFORGE_GATEWAY_MAX_UPLOAD_BYTES=str(MAX_UPLOAD),
        CLIPFORGE_LOG_LEVEL=log_level,
        **extra,
    )
    service.start()
    gateway = GatewayProcess(service, settings, namespace)
    try:
        run_async(service.wait_ready())
    except BaseException:
        stop_gateway(gateway)
        raise
    return gateway


async def _cleanup(gateway: GatewayProcess) -> None:
    with contextlib.suppress(Exception):
        await drop_database(gateway.settings, gateway.database)
    redis = create_redis(gateway.settings)
    try:
        await delete_prefix(redis, gateway.namespace)
    finally:
        await redis.aclose()


def stop_gateway(gateway: GatewayProcess) -> int | None:
    code = gateway.service.stop()
    run_async(_cleanup(gateway))
    return code


@contextlib.contextmanager
def running_gateway(settings: Settings, log_dir: Path, **kwargs: str) -> Iterator[GatewayProcess]:
    gateway = start_gateway(settings, log_dir, **kwargs)
    try:
        yield gateway
    finally:
        code = stop_gateway(gateway)
        assert code in (0, None), f"the gateway exited with {code}:\n{gateway.service.log_tail()}"


def gateway_fixture(**kwargs: str):  # type: ignore[no-untyped-def]
    """A module-scoped fixture running one gateway process (sync, so schemathesis can load from it)."""

    @pytest.fixture(scope="module")
    def fixture(stack: Settings, tmp_path_factory: pytest.TempPathFactory) -> Iterator[GatewayProcess]:
        with running_gateway(stack, tmp_path_factory.mktemp("gateway-logs"), **kwargs) as gateway:
            yield gateway

    return fixture
