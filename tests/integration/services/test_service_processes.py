"""Each service starts as its own process, joins its consumer group, serves health endpoints and
stops cleanly on SIGTERM."""

from __future__ import annotations

import asyncio
import os
import signal
import subprocess
import sys
import time
import uuid

import httpx
import pytest
from aiokafka.admin import AIOKafkaAdminClient
from clipforge_common.settings import SERVICES

CONSUMING = {"ingest", "transcribe", "rank", "render", "gateway"}


async def _group_members(bootstrap: str, group: str) -> int:
    admin = AIOKafkaAdminClient(bootstrap_servers=bootstrap)
    await admin.start()
    try:
        described = await admin.describe_consumer_groups([group])
        count = 0
        for response in described:
            for g in response.groups:
                # (error_code, group_id, state, protocol_type, protocol, members, ...)
                if g[1] == group:
                    count += len(g[5])
        return count
    finally:
        await admin.close()


@pytest.mark.parametrize("name", SERVICES)
async def test_service_process_lifecycle(stack, name, tmp_path):
    port = 18000 + SERVICES.index(name)
    env = dict(os.environ)
    env[f"CLIPFORGE_{name.upper()}_PORT"] = str(port)
    # A consumer group of its own serving no real tenant: the instance joins and consumes, but never
    # takes over (or redoes) the work of other tests' videos.
    group = f"lifecycle-{uuid.uuid4().hex[:8]}-{name}"
    env[f"CLIPFORGE_{name.upper()}_GROUP_ID"] = group
    env[f"CLIPFORGE_{name.upper()}_TENANTS"] = "lifecycle-nobody"
    log_path = tmp_path / f"{name}.log"
    with log_path.open("wb") as log:
        proc = subprocess.Popen([sys.executable, "-m", f"clipforge_{name}"], env=env, stdout=log, stderr=log)
    try:
        base = f"http://127.0.0.1:{port}"
        deadline = time.monotonic() + 90
        ready = None
        async with httpx.AsyncClient() as client:
            while time.monotonic() < deadline:
                assert proc.poll() is None, log_path.read_text()[-3000:]
                try:
                    ready = await client.get(base + "/readyz", timeout=2)
                    if ready.status_code == 200:
                        break
                except httpx.HTTPError:
                    pass
                await asyncio.sleep(0.3)
            assert ready is not None and ready.status_code == 200, log_path.read_text()[-3000:]
            checks = ready.json()["checks"]
            assert {"postgres", "kafka", "s3"} <= set(checks)
            assert all(c["ok"] for c in checks.values())
            assert (await client.get(base + "/healthz")).json()["status"] == "ok"
            metrics = await client.get(base + "/metrics")
            assert metrics.status_code == 200 and "clipforge_events_consumed_total" in metrics.text

        if name in CONSUMING:
            members = 0
            while time.monotonic() < deadline and members == 0:
                members = await _group_members(stack.kafka_bootstrap, group)
                await asyncio.sleep(0.5)
            assert members >= 1, f"{name} did not join {group}"

        proc.send_signal(signal.SIGTERM)
        assert proc.wait(timeout=60) == 0
        text = log_path.read_text()
        assert '"stopped"' in text
        assert "Traceback" not in text
    finally:
        if proc.poll() is None:
            proc.kill()
