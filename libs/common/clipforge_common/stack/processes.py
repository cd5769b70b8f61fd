"""Start, find and stop the background processes the stack owns.

Each process gets a pid file holding its pid and creation time; ``stop`` only signals a pid whose
creation time still matches, so a recycled pid of an unrelated program is never touched.
"""

from __future__ import annotations

import contextlib
import json
import os
import signal
import subprocess
import time
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path

import psutil


@dataclass(frozen=True)
class ManagedProcess:
    name: str
    pid: int
    create_time: float

    def alive(self) -> bool:
        try:
            proc = psutil.Process(self.pid)
            return abs(proc.create_time() - self.create_time) < 1.0 and proc.status() != psutil.STATUS_ZOMBIE
        except psutil.Error:
            return False


def _pidfile(run_dir: Path, name: str) -> Path:
    return run_dir / f"{name}.pid.json"


def read_process(run_dir: Path, name: str) -> ManagedProcess | None:
    path = _pidfile(run_dir, name)
    try:
        raw = json.loads(path.read_text())
        return ManagedProcess(name=name, pid=int(raw["pid"]), create_time=float(raw["create_time"]))
    except (OSError, ValueError, KeyError):
        return None


def start_process(
    run_dir: Path,
    name: str,
    argv: Sequence[str],
    *,
    log_file: Path,
    env: Mapping[str, str] | None = None,
    cwd: Path | None = None,
    user: str | None = None,
) -> ManagedProcess:
    """Start ``argv`` detached in its own session (so Ctrl-C on the CLI does not kill it)."""
    run_dir.mkdir(parents=True, exist_ok=True)
    log_file.parent.mkdir(parents=True, exist_ok=True)
    with open(log_file, "ab") as log:
        popen = subprocess.Popen(
            list(argv),
            stdout=log,
            stderr=subprocess.STDOUT,
            stdin=subprocess.DEVNULL,
            env=dict(env) if env is not None else None,
            cwd=cwd,
            start_new_session=True,
            user=user,
        )
    proc = ManagedProcess(name=name, pid=popen.pid, create_time=psutil.Process(popen.pid).create_time())
    _pidfile(run_dir, name).write_text(json.dumps({"pid": proc.pid, "create_time": proc.create_time}))
    return proc


def stop_process(run_dir: Path, name: str, *, timeout: float = 30.0, sig: int = signal.SIGTERM) -> bool:
    """Stop the process recorded under ``name``; return True if one was running."""
    return bool(stop_processes(run_dir, [name], timeout=timeout, sig=sig))


def stop_processes(
    run_dir: Path, names: Sequence[str], *, timeout: float = 30.0, sig: int = signal.SIGTERM
) -> list[str]:
    """Signal all of ``names`` at once, wait for them together, SIGKILL what outlives ``timeout``.

    Stopping a Kafka cluster one broker at a time can stall: the last brokers lose their
    controller quorum and wait for it. Returns the names that were running.
    """
    running = [p for name in names if (p := read_process(run_dir, name)) is not None and p.alive()]
    for proc in running:
        # Signal the leader only: supervisors (honcho, postgres) forward it to their children,
        # which would otherwise get it twice. The whole group is killed only on timeout.
        with contextlib.suppress(ProcessLookupError):
            os.kill(proc.pid, sig)
    deadline = time.monotonic() + timeout
    while any(p.alive() for p in running) and time.monotonic() < deadline:
        time.sleep(0.1)
    for proc in running:
        if proc.alive():
            with contextlib.suppress(ProcessLookupError):
                os.killpg(proc.pid, signal.SIGKILL)
    deadline = time.monotonic() + 10
    while any(p.alive() for p in running) and time.monotonic() < deadline:
        time.sleep(0.1)
    for name in names:
        _pidfile(run_dir, name).unlink(missing_ok=True)
    return [p.name for p in running]


def kill_process(run_dir: Path, name: str) -> bool:
    """SIGKILL without a grace period (failure tests)."""
    return stop_process(run_dir, name, timeout=0.0, sig=signal.SIGKILL)
