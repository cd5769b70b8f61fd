"""`clipforge stack up|status|down` on its own ports and state directory, as a user runs it."""

from __future__ import annotations

import json
import os
import subprocess
import sys

import psutil
import pytest

pytestmark = pytest.mark.slow


def _clipforge(env: dict[str, str], *args: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-m", "clipforge_cli.main", *args],
        env=env,
        capture_output=True,
        text=True,
        timeout=600,
        check=False,
    )


def test_stack_up_status_down_leaves_nothing_running(tmp_path):
    env = dict(os.environ)
    env.update(
        {
            "CLIPFORGE_HOME": str(tmp_path / "home"),
            "CLIPFORGE_KAFKA_BOOTSTRAP": "127.0.0.1:19092",
            "CLIPFORGE_PG_PORT": "15432",
            "CLIPFORGE_REDIS_URL": "redis://127.0.0.1:16379/0",
            "CLIPFORGE_S3_ENDPOINT": "http://127.0.0.1:19000",
            "CLIPFORGE_KAFKA_HEAP": "384m",
        }
    )
    try:
        up = _clipforge(env, "stack", "up")
        assert up.returncode == 0, up.stdout + up.stderr
        status = _clipforge(env, "stack", "status", "--json")
        assert status.returncode == 0, status.stdout + status.stderr
        report = json.loads(status.stdout)
        by_name = {c["name"]: c for c in report["components"]}
        assert set(by_name) == {"kafka", "postgres", "redis", "s3"}
        assert report["healthy"] is True
        assert all(c["healthy"] and c["managed"] and c["pids"] for c in by_name.values())
        assert by_name["kafka"]["endpoint"] == "127.0.0.1:19092"
        assert by_name["s3"]["endpoint"] == "http://127.0.0.1:19000"
        pids = [pid for c in by_name.values() for pid in c["pids"]]

        again = _clipforge(env, "stack", "up", "--json")  # idempotent: nothing restarted
        assert again.returncode == 0, again.stderr
        assert sorted(p for c in json.loads(again.stdout)["components"] for p in c["pids"]) == sorted(pids)
    finally:
        down = _clipforge(env, "stack", "down", "--purge")
    assert down.returncode == 0, down.stdout + down.stderr
    left = [pid for pid in pids if psutil.pid_exists(pid) and psutil.Process(pid).status() != psutil.STATUS_ZOMBIE]
    assert left == [], f"processes still running after down: {left}"
    after = _clipforge(env, "stack", "status", "--json")
    assert after.returncode == 1
    assert json.loads(after.stdout)["healthy"] is False
