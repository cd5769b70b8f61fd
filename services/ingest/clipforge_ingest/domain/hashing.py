"""Content hashes of media files (dedupe of re-uploads), streamed in bounded memory."""

from __future__ import annotations

import hashlib
import os
from collections.abc import Callable

__all__ = ["sha256_file"]


def sha256_file(
    path: str | os.PathLike[str],
    chunk: int = 1 << 20,
    *,
    on_progress: Callable[[float], None] | None = None,
) -> str:
    """Hex SHA-256 of the file, read ``chunk`` bytes at a time into one reused buffer."""
    if chunk <= 0:
        raise ValueError("chunk must be positive")
    digest = hashlib.sha256()
    buf = bytearray(chunk)
    view = memoryview(buf)
    total = os.path.getsize(path) if on_progress is not None else 0
    done = 0
    with open(path, "rb", buffering=0) as f:
        while n := f.readinto(buf):
            digest.update(view[:n])
            done += n
            if on_progress is not None and total:
                on_progress(min(1.0, done / total))
    return digest.hexdigest()
