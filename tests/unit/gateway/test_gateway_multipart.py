"""Streaming multipart uploads: sniffed, size-limited, bounded memory, aborted cleanly."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator

import pytest
from clipforge_gateway.api.errors import ApiError
from clipforge_gateway.api.multipart import BytePipe, check_declared_length, receive_upload
from clipforge_gateway.domain.sniff import MP4, MediaKind

BOUNDARY = "----clipforgeboundary7MA4YWxk"
CTYPE = f"multipart/form-data; boundary={BOUNDARY}"
MP4_HEAD = b"\x00\x00\x00\x18ftypisom\x00\x00\x02\x00isomiso2"
ALLOWED = frozenset({"video/mp4", "audio/mpeg"})


def body(file: bytes | None, fields: dict[str, str] | None = None, filename: str = "talk.mp4") -> bytes:
    out = b""
    for name, value in (fields or {}).items():
        out += f'--{BOUNDARY}\r\nContent-Disposition: form-data; name="{name}"\r\n\r\n{value}\r\n'.encode()
    if file is not None:
        out += (
            f'--{BOUNDARY}\r\nContent-Disposition: form-data; name="file"; filename="{filename}"\r\n'
            "Content-Type: application/octet-stream\r\n\r\n"
        ).encode()
        out += file + b"\r\n"
    return out + f"--{BOUNDARY}--\r\n".encode()


async def chunked(data: bytes, size: int = 7919) -> AsyncIterator[bytes]:
    # An odd chunk size, so boundaries and sniffing windows straddle network chunks.
    for i in range(0, len(data), size):
        yield data[i : i + size]


class Sink:
    def __init__(self, delay: float = 0.0) -> None:
        self.data = bytearray()
        self.kind: MediaKind | None = None
        self.delay = delay
        self.completed = False
        self.pipe: BytePipe | None = None

    async def __call__(self, kind: MediaKind, pipe: BytePipe) -> None:
        self.kind, self.pipe = kind, pipe
        while chunk := await pipe.read(256 * 1024):
            self.data += chunk
            if self.delay:
                await asyncio.sleep(self.delay)
        self.completed = True


async def test_file_and_fields_are_received() -> None:
    payload = MP4_HEAD + bytes(range(256)) * 400
    sink = Sink()
    result = await receive_upload(
        chunked(body(payload, {"language": "de", "top_k": "3"})), CTYPE, sink, max_bytes=10**6, allowed_types=ALLOWED
    )
    assert sink.completed and bytes(sink.data) == payload
    assert result.kind == MP4 and sink.kind == MP4
    assert result.size == len(payload) and result.filename == "talk.mp4"
    assert result.fields == {"language": "de", "top_k": "3"}


async def test_a_file_shorter_than_the_sniffing_window() -> None:
    sink = Sink()
    result = await receive_upload(chunked(body(b"ID3\x04\x00"), 3), CTYPE, sink, max_bytes=100, allowed_types=ALLOWED)
    assert result.kind.ext == "mp3" and bytes(sink.data) == b"ID3\x04\x00"


async def test_large_upload_streams_with_bounded_memory() -> None:
    payload = MP4_HEAD + b"\x01" * (24 * 1024 * 1024)
    sink = Sink(delay=0.0005)  # a reader slower than the network
    result = await receive_upload(
        chunked(body(payload), 64 * 1024), CTYPE, sink, max_bytes=10**9, allowed_types=ALLOWED, max_buffered=1 << 20
    )
    assert result.size == len(payload) == len(sink.data)
    assert sink.pipe is not None and sink.pipe.peak <= (1 << 20) + 64 * 1024


@pytest.mark.parametrize(
    ("file", "status", "code"),
    [
        (b"%PDF-1.7" + b"\x00" * 100, 415, "unsupported_media_type"),
        (b"RIFF\x00\x00\x00\x00WAVEfmt " + b"\x00" * 100, 415, "unsupported_media_type"),  # wav: not in ALLOWED
        (b"", 415, "unsupported_media_type"),
    ],
)
async def test_refused_content_is_never_stored(file: bytes, status: int, code: str) -> None:
    sink = Sink()
    with pytest.raises(ApiError) as info:
        await receive_upload(chunked(body(file)), CTYPE, sink, max_bytes=10**6, allowed_types=ALLOWED)
    assert (info.value.status, info.value.code) == (status, code)
    assert sink.kind is None and not sink.data


async def test_too_large_aborts_the_upload() -> None:
    sink = Sink()
    payload = MP4_HEAD + b"\x00" * 300_000
    with pytest.raises(ApiError) as info:
        await receive_upload(chunked(body(payload)), CTYPE, sink, max_bytes=200_000, allowed_types=ALLOWED)
    assert info.value.status == 413
    assert not sink.completed  # the reader saw an error, not EOF: S3 aborts the multipart upload


async def test_uploader_failure_surfaces() -> None:
    async def broken(kind: MediaKind, pipe: BytePipe) -> None:
        await pipe.read(10)
        raise ConnectionError("S3 went away")

    with pytest.raises(ConnectionError):
        await receive_upload(
            chunked(body(MP4_HEAD + b"\x00" * 2_000_000)), CTYPE, broken, max_bytes=10**9, allowed_types=ALLOWED
        )


@pytest.mark.parametrize(
    ("content_type", "data", "status"),
    [
        ("application/json", b"{}", 415),
        ("multipart/form-data", b"", 415),  # no boundary
        (CTYPE, body(None, {"language": "en"}), 422),  # no file
        (CTYPE, body(MP4_HEAD)[:-30], 422),  # truncated
        (CTYPE, body(MP4_HEAD, {"x": "y" * 5000}), 422),  # oversized field
    ],
)
async def test_malformed_requests(content_type: str, data: bytes, status: int) -> None:
    with pytest.raises(ApiError) as info:
        await receive_upload(chunked(data), content_type, Sink(), max_bytes=10**6, allowed_types=ALLOWED)
    assert info.value.status == status


async def test_two_files_are_refused() -> None:
    data = body(MP4_HEAD)[: -len(f"--{BOUNDARY}--\r\n")] + body(MP4_HEAD)
    with pytest.raises(ApiError) as info:
        await receive_upload(chunked(data), CTYPE, Sink(), max_bytes=10**6, allowed_types=ALLOWED)
    assert info.value.status == 422


def test_declared_length_check() -> None:
    check_declared_length(None, 10)
    check_declared_length("1000", 10)  # within the envelope allowance
    with pytest.raises(ApiError) as info:
        check_declared_length(str(10 + 65 * 1024), 10)
    assert info.value.status == 413
