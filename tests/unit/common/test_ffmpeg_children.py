"""An ffmpeg child dies with its worker, even when the worker is SIGKILLed and can run no cleanup."""

from __future__ import annotations

import contextlib
import os
import signal
import subprocess
import sys
import textwrap
import time

import psutil
import pytest

pytestmark = pytest.mark.skipif(sys.platform != "linux", reason="parent-death signals are Linux-only")

WORKER = textwrap.dedent(
    """
    import sys, threading, time
    from clipforge_common.ffmpeg import run_ffmpeg

    # ffmpeg on a worker thread, as job workers run it, stalled on an input that never comes: it
    # writes nothing, so no broken pipe would ever stop it after its worker is gone.
    args = ["-i", sys.argv[1], "-f", "null", "-"]
    threading.Thread(target=run_ffmpeg, args=(args,), daemon=True).start()
    time.sleep(600)
    """
)


def _ffmpeg_children(pid: int) -> list[psutil.Process]:
    with contextlib.suppress(psutil.Error):
        return [c for c in psutil.Process(pid).children() if "ffmpeg" in c.name()]
    return []


def test_ffmpeg_is_killed_when_its_worker_is_killed(tmp_path) -> None:
    stalled = tmp_path / "stalled.fifo"
    os.mkfifo(stalled)
    worker = subprocess.Popen([sys.executable, "-c", WORKER, str(stalled)], start_new_session=True)
    try:
        deadline = time.monotonic() + 60  # guards a hang only
        while not (children := _ffmpeg_children(worker.pid)):
            assert worker.poll() is None and time.monotonic() < deadline, "ffmpeg never started"
            time.sleep(0.1)
        ffmpeg = children[0]
        os.kill(worker.pid, signal.SIGKILL)  # the worker only, not its process group
        worker.wait()
        _gone, alive = psutil.wait_procs([ffmpeg], timeout=20)
        assert not alive, "ffmpeg outlived its killed worker"
    finally:
        with contextlib.suppress(ProcessLookupError):
            os.killpg(worker.pid, signal.SIGKILL)
