"""Upload and download a large file through ObjectStore; print the peak RSS (bytes) before and after.

The first number is the high-water mark once the S3 client is loaded and warm (a tiny object went
both ways), the second after the big round trip: their difference is what streaming costs.
"""

from __future__ import annotations

import asyncio
import sys
from pathlib import Path

from clipforge_common.settings import get_settings
from clipforge_common.storage import ObjectStore


def peak_rss() -> int:
    """This process's high-water RSS. Not getrusage: its ru_maxrss survives exec, so a child
    forked from a big pytest process would report the parent's size."""
    for line in Path("/proc/self/status").read_text().splitlines():
        if line.startswith("VmHWM:"):
            return int(line.split()[1]) * 1024
    raise RuntimeError("no VmHWM in /proc/self/status")


async def main(src: Path, dst: Path, key: str) -> None:
    store = ObjectStore(get_settings())
    await store.ensure_bucket()
    await store.put_bytes(key + ".warm", b"warm")
    await store.get_bytes(key + ".warm")
    await store.delete(key + ".warm")
    warm = peak_rss()
    await store.upload_file(src, key, content_type="application/octet-stream")
    await store.download_file(key, dst)
    print(warm, peak_rss())


if __name__ == "__main__":
    asyncio.run(main(Path(sys.argv[1]), Path(sys.argv[2]), sys.argv[3]))
