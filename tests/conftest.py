"""Shared fixtures: the real stack (native by default, testcontainers when a Docker engine runs)."""

from __future__ import annotations

import os
import uuid
from collections.abc import AsyncIterator, Iterator
from pathlib import Path

import pytest
from clipforge_common.settings import Settings, get_settings, reset_settings_cache

REPO = Path(__file__).resolve().parents[1]


def pytest_collection_modifyitems(config: pytest.Config, items: list[pytest.Item]) -> None:
    for item in items:
        parts = Path(str(item.fspath)).relative_to(REPO / "tests").parts
        if parts and parts[0] in {"integration", "e2e", "resilience"}:
            item.add_marker(pytest.mark.integration)


def _docker_engine_available() -> bool:
    try:
        import docker

        docker.from_env(timeout=3).ping()
        return True
    except Exception:
        return False


@pytest.fixture(scope="session")
def stack() -> Iterator[Settings]:
    """Real Kafka, PostgreSQL, Redis and S3 on loopback; yields the settings pointing at them.

    CLIPFORGE_TEST_STACK=native|docker|external picks the provider; by default testcontainers are
    used when a Docker engine answers, otherwise the native stack (`clipforge stack up`) is started
    (idempotently) and left running for the next run. `external` uses whatever CLIPFORGE_* says.
    """
    mode = os.environ.get("CLIPFORGE_TEST_STACK") or ("docker" if _docker_engine_available() else "native")
    if mode == "docker":
        from tests.containers import container_stack

        with container_stack() as env:
            os.environ.update(env)
            reset_settings_cache()
            yield get_settings()
        return
    reset_settings_cache()
    settings = get_settings()
    if mode == "native":
        from clipforge_common.stack import Stack

        stack = Stack(settings=settings, brokers=1)
        if not all(h.healthy for h in stack.status()):
            stack.up(progress=lambda _m: None)
    yield settings


@pytest.fixture
def unique() -> str:
    return uuid.uuid4().hex[:12]


@pytest.fixture
async def test_pool(stack: Settings) -> AsyncIterator[object]:
    """A fresh database with the common tables (inbox, outbox, jobs), dropped afterwards."""
    from clipforge_common.db import create_pool, drop_database, ensure_database, migrate, migration_files

    name = f"clipforge_test_{uuid.uuid4().hex[:10]}"
    await ensure_database(stack, name)
    pool = await create_pool(stack, name)
    await migrate(pool, [("common", migration_files("clipforge_common"))])
    try:
        yield pool
    finally:
        await pool.close()
        await drop_database(stack, name)
