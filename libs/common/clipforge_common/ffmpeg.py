"""Thin, typed wrappers around the ffmpeg and ffprobe command-line tools.

Every service runs media work as a subprocess (never in-process decoding), so failures surface as
:class:`MediaToolError` carrying the tail of the tool's stderr for logs and error events.
"""

from __future__ import annotations

import collections
import ctypes
import ctypes.util
import json
import os
import signal
import subprocess
import sys
import threading
from collections.abc import Callable, Sequence
from pathlib import Path
from typing import Any

__all__ = ["MediaToolError", "ffprobe", "media_tool_options", "run_ffmpeg"]

FFMPEG = os.environ.get("CLIPFORGE_FFMPEG", "ffmpeg")
FFPROBE = os.environ.get("CLIPFORGE_FFPROBE", "ffprobe")

# ffmpeg can print megabytes of warnings on a damaged file; keep only what explains the failure.
_STDERR_TAIL_LINES = 40


_PR_SET_PDEATHSIG = 1
# Loaded before any fork: the child between fork and exec must only make the system call.
_prctl = ctypes.CDLL(ctypes.util.find_library("c") or None, use_errno=True).prctl if sys.platform == "linux" else None


def _die_with_parent(parent: int) -> Callable[[], None]:
    def preexec() -> None:
        assert _prctl is not None
        _prctl(_PR_SET_PDEATHSIG, signal.SIGKILL, 0, 0, 0)
        if os.getppid() != parent:  # the parent died before the call above took effect
            os._exit(1)

    return preexec


def media_tool_options() -> dict[str, Any]:
    """Popen options for ffmpeg/ffprobe children: on Linux they are killed when the worker dies.

    A worker killed with SIGKILL cannot stop its ffmpeg. One that writes to the worker's pipes dies at
    its next write, but one stalled on its input (a slow or never-ending source) would wait on, unowned.
    """
    return {"preexec_fn": _die_with_parent(os.getpid())} if _prctl is not None else {}


class MediaToolError(Exception):
    """ffmpeg/ffprobe failed; ``stderr_tail`` holds the last lines it printed."""

    def __init__(self, message: str, *, stderr_tail: str = "", returncode: int | None = None) -> None:
        super().__init__(message if not stderr_tail else f"{message}: {stderr_tail.strip()[-2000:]}")
        self.stderr_tail = stderr_tail
        self.returncode = returncode


def ffprobe(path: str | os.PathLike[str], *, timeout: float | None = 60.0) -> dict[str, Any]:
    """Return ffprobe's JSON (``format`` and ``streams``) for ``path``."""
    cmd = [
        FFPROBE,
        "-v",
        "error",
        "-print_format",
        "json",
        "-show_format",
        "-show_streams",
        os.fspath(path),
    ]
    try:
        proc = subprocess.run(cmd, capture_output=True, timeout=timeout, check=False, **media_tool_options())
    except subprocess.TimeoutExpired as exc:
        raise MediaToolError(f"ffprobe timed out after {timeout}s on {path}") from exc
    except FileNotFoundError as exc:
        raise MediaToolError(f"{FFPROBE} is not installed or not on PATH") from exc
    stderr = proc.stderr.decode("utf-8", "replace")
    if proc.returncode != 0:
        raise MediaToolError(
            f"ffprobe failed on {Path(path).name}",
            stderr_tail=_tail(stderr),
            returncode=proc.returncode,
        )
    try:
        data = json.loads(proc.stdout or b"{}")
    except json.JSONDecodeError as exc:
        raise MediaToolError("ffprobe printed invalid JSON", stderr_tail=_tail(stderr)) from exc
    if not isinstance(data, dict):
        raise MediaToolError("ffprobe printed unexpected JSON", stderr_tail=_tail(stderr))
    data.setdefault("streams", [])
    data.setdefault("format", {})
    return data


def run_ffmpeg(
    args: Sequence[str],
    *,
    duration: float | None = None,
    on_progress: Callable[[float], None] | None = None,
    timeout: float | None = None,
) -> None:
    """Run ``ffmpeg -hide_banner -nostdin -y -progress pipe:1 -nostats *args``.

    ``on_progress`` gets a fraction in [0, 1] (monotonic, ends with 1.0 on success) when ``duration``
    (seconds of output expected) is known. Raises :class:`MediaToolError` on a non-zero exit or timeout.
    """
    cmd = [FFMPEG, "-hide_banner", "-nostdin", "-y", "-progress", "pipe:1", "-nostats", *map(str, args)]
    try:
        proc = subprocess.Popen(
            cmd, stdout=subprocess.PIPE, stderr=subprocess.PIPE, stdin=subprocess.DEVNULL, **media_tool_options()
        )
    except FileNotFoundError as exc:
        raise MediaToolError(f"{FFMPEG} is not installed or not on PATH") from exc

    tail: collections.deque[str] = collections.deque(maxlen=_STDERR_TAIL_LINES)

    # stderr is drained on its own thread so a chatty ffmpeg never blocks on a full pipe.
    def drain_stderr() -> None:
        assert proc.stderr is not None
        for raw in proc.stderr:
            tail.append(raw.decode("utf-8", "replace").rstrip("\n"))

    reader = threading.Thread(target=drain_stderr, name="ffmpeg-stderr", daemon=True)
    reader.start()

    timer: threading.Timer | None = None
    timed_out = threading.Event()
    if timeout is not None:

        def kill() -> None:
            timed_out.set()
            proc.kill()

        timer = threading.Timer(timeout, kill)
        timer.daemon = True
        timer.start()

    last = 0.0
    try:
        assert proc.stdout is not None
        for raw in proc.stdout:
            if on_progress is None or not duration or duration <= 0:
                continue
            key, _, value = raw.decode("ascii", "replace").strip().partition("=")
            fraction: float | None = None
            if key in ("out_time_us", "out_time_ms"):
                # Both keys are microseconds (out_time_ms is a historical misnomer); N/A early on.
                try:
                    fraction = int(value) / 1e6 / duration
                except ValueError:
                    continue
            elif key == "progress" and value == "end":
                fraction = 1.0
            if fraction is not None:
                fraction = min(1.0, max(0.0, fraction))
                if fraction > last:
                    last = fraction
                    on_progress(fraction)
        returncode = proc.wait()
    finally:
        if timer is not None:
            timer.cancel()
        if proc.poll() is None:
            proc.kill()
            proc.wait()
        reader.join(timeout=5)

    if timed_out.is_set():
        raise MediaToolError(f"ffmpeg timed out after {timeout}s", stderr_tail="\n".join(tail), returncode=-9)
    if returncode != 0:
        raise MediaToolError(
            f"ffmpeg exited with status {returncode}", stderr_tail="\n".join(tail), returncode=returncode
        )
    if on_progress is not None and duration and last < 1.0:
        on_progress(1.0)


def _tail(text: str, lines: int = _STDERR_TAIL_LINES) -> str:
    return "\n".join(text.splitlines()[-lines:])
