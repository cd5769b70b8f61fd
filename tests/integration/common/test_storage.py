"""S3 through the real S3-compatible server: streamed big objects, presigned ranged GETs."""

from __future__ import annotations

import hashlib
import os
import subprocess
import sys
from pathlib import Path

import httpx
from clipforge_common.storage import ObjectNotFound, ObjectStore

SIZE = 200 * 1024 * 1024


def _sha256(path: Path) -> str:
    digest = hashlib.sha256()
    with path.open("rb") as fh:
        while block := fh.read(1 << 20):
            digest.update(block)
    return digest.hexdigest()


async def test_200mb_object_round_trip_is_streamed(stack, tmp_path, unique):
    src = tmp_path / "big.bin"
    with src.open("wb") as fh:  # incompressible content, written in pieces
        for _ in range(SIZE // (4 << 20)):
            fh.write(os.urandom(4 << 20))
    dst = tmp_path / "back.bin"
    key = f"test/{unique}/big.bin"
    proc = subprocess.run(
        [sys.executable, str(Path(__file__).with_name("s3_roundtrip_proc.py")), str(src), str(dst), key],
        capture_output=True,
        text=True,
        check=False,
    )
    assert proc.returncode == 0, proc.stderr[-3000:]
    warm_rss, peak_rss = map(int, proc.stdout.strip().splitlines()[-1].split())
    assert dst.stat().st_size == SIZE
    assert _sha256(dst) == _sha256(src)
    # Streaming: the round trip adds a few multipart chunks' worth of memory, not the object.
    grown = peak_rss - warm_rss
    assert grown < SIZE * 0.4, f"peak RSS grew {grown / 2**20:.0f} MiB for a {SIZE / 2**20:.0f} MiB object"
    assert peak_rss < SIZE * 0.8, f"peak RSS {peak_rss / 2**20:.0f} MiB"
    store = ObjectStore(stack)
    await store.delete(key)


async def test_presigned_get_with_range_answers_206_with_right_bytes(stack, unique):
    store = ObjectStore(stack)
    await store.ensure_bucket()
    key = f"test/{unique}/small.bin"
    payload = bytes(range(256)) * 64
    await store.put_bytes(key, payload, content_type="application/octet-stream")
    url = await store.presigned_get(key, expires=60)
    async with httpx.AsyncClient() as client:
        response = await client.get(url, headers={"Range": "bytes=100-1099"})
        assert response.status_code == 206
        assert response.content == payload[100:1100]
        assert response.headers["content-range"].startswith("bytes 100-1099/")
        full = await client.get(url)
        assert full.status_code == 200 and full.content == payload
    ranged = b"".join([chunk async for chunk in store.iter_bytes(key, "bytes=0-9")])
    assert ranged == payload[:10]
    await store.delete_prefix(f"test/{unique}/")
    assert not await store.exists(key)
    try:
        await store.get_bytes(key)
    except ObjectNotFound:
        pass
    else:
        raise AssertionError("a deleted object must be gone")
