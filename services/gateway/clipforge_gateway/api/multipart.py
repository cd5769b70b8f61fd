"""Streaming multipart uploads: parse the request body as it arrives and pipe the file to S3.

Memory stays bounded whatever the file size: the parser sees one network chunk at a time, the pipe
to the S3 uploader holds at most ``max_buffered`` bytes, and the uploader sends multipart chunks.
The file's first bytes decide its type (magic bytes) before anything is stored; crossing the size
limit aborts the S3 upload.
"""

from __future__ import annotations

import asyncio
import contextlib
from collections import deque
from collections.abc import AsyncIterator, Awaitable, Callable
from dataclasses import dataclass, field

from python_multipart.exceptions import MultipartParseError
from python_multipart.multipart import MultipartParser, parse_options_header

from clipforge_gateway.api.errors import ApiError
from clipforge_gateway.domain.sniff import SNIFF_BYTES, MediaKind, sniff

MAX_FIELDS = 16
MAX_FIELD_BYTES = 4096
# After a refusal we keep reading (and dropping) this much, so the client gets to read our answer.
DRAIN_BYTES = 16 * 1024 * 1024


class PipeClosed(Exception):
    """The reader went away (the upload failed or finished early)."""


class BytePipe:
    """A bounded async byte pipe: the request side writes, the S3 uploader ``read``s."""

    def __init__(self, max_buffered: int = 4 * 1024 * 1024) -> None:
        self.max_buffered = max_buffered
        self.buffered = 0
        self.peak = 0
        self._chunks: deque[bytes] = deque()
        self._cond = asyncio.Condition()
        self._eof = False
        self._error: BaseException | None = None
        self._reader_gone = False

    async def write(self, data: bytes) -> None:
        if not data:
            return
        async with self._cond:
            await self._cond.wait_for(lambda: self.buffered < self.max_buffered or self._reader_gone)
            if self._reader_gone:
                raise PipeClosed("the upload stopped reading")
            self._chunks.append(data)
            self.buffered += len(data)
            self.peak = max(self.peak, self.buffered)
            self._cond.notify_all()

    async def read(self, size: int = -1) -> bytes:
        async with self._cond:
            await self._cond.wait_for(lambda: self._chunks or self._eof or self._error is not None)
            if self._error is not None:
                raise self._error
            if not self._chunks:
                return b""
            chunk = self._chunks.popleft()
            if 0 < size < len(chunk):
                self._chunks.appendleft(chunk[size:])
                chunk = chunk[:size]
            self.buffered -= len(chunk)
            self._cond.notify_all()
            return chunk

    async def close(self) -> None:
        async with self._cond:
            self._eof = True
            self._cond.notify_all()

    async def fail(self, exc: BaseException) -> None:
        async with self._cond:
            self._error = exc
            self._cond.notify_all()

    async def reader_done(self) -> None:
        async with self._cond:
            self._reader_gone = True
            self._cond.notify_all()


# start_upload(kind, pipe) stores everything read from the pipe under a key chosen from the kind.
StartUpload = Callable[[MediaKind, BytePipe], Awaitable[None]]


@dataclass
class UploadResult:
    kind: MediaKind
    size: int
    filename: str | None
    fields: dict[str, str] = field(default_factory=dict)


def boundary_of(content_type: str | None) -> bytes:
    """The multipart boundary, or 415 for any other body."""
    ctype, params = parse_options_header(content_type or "")
    boundary = params.get(b"boundary")
    if ctype != b"multipart/form-data" or not boundary:
        raise ApiError(415, "unsupported_media_type", "Send the file as multipart/form-data in a field named 'file'.")
    return boundary


def check_declared_length(content_length: str | None, max_bytes: int) -> None:
    """413 before reading anything when the declared body cannot fit (a little room for the envelope)."""
    if content_length and content_length.isdigit() and int(content_length) > max_bytes + 64 * 1024:
        raise too_large(max_bytes)


def too_large(max_bytes: int) -> ApiError:
    return ApiError(413, "file_too_large", f"The file is larger than the limit of {max_bytes} bytes.")


class _Parts:
    """Parser callbacks collecting part headers, small fields and the file's data pieces."""

    def __init__(self, file_field: str) -> None:
        self.file_field = file_field
        self.headers: dict[str, str] = {}
        self._field = b""
        self._value = b""
        self.name: str | None = None
        self.filename: str | None = None
        self.in_file = False
        self.file_seen = False
        self.field_value = bytearray()
        self.fields: dict[str, str] = {}
        self.events: list[tuple[str, bytes]] = []  # ("data", bytes) | ("end", b"")
        self.error: ApiError | None = None
        self.finished = False

    def callbacks(self) -> dict[str, Callable[..., None]]:
        return {
            "on_part_begin": self._part_begin,
            "on_header_field": lambda d, s, e: self._acc("_field", d[s:e]),
            "on_header_value": lambda d, s, e: self._acc("_value", d[s:e]),
            "on_header_end": self._header_end,
            "on_headers_finished": self._headers_finished,
            "on_part_data": self._part_data,
            "on_part_end": self._part_end,
            "on_end": self._end,
        }

    def _acc(self, attr: str, data: bytes) -> None:
        setattr(self, attr, getattr(self, attr) + data)

    def _part_begin(self) -> None:
        self.headers, self.name, self.filename, self.in_file = {}, None, None, False
        self.field_value = bytearray()

    def _header_end(self) -> None:
        self.headers[self._field.decode("latin-1").strip().lower()] = self._value.decode("latin-1").strip()
        self._field = self._value = b""

    def _headers_finished(self) -> None:
        _, params = parse_options_header(self.headers.get("content-disposition", ""))
        self.name = params.get(b"name", b"").decode("utf-8", "replace")
        raw_filename = params.get(b"filename")
        self.filename = raw_filename.decode("utf-8", "replace")[:255] if raw_filename is not None else None
        if self.name == self.file_field:
            if self.file_seen:
                self._fail(ApiError(422, "validation_error", f"Send exactly one '{self.file_field}' part."))
            self.in_file = self.file_seen = True
        elif self.filename is not None:
            self._fail(ApiError(422, "validation_error", f"Unexpected file in field '{self.name}'."))
        elif len(self.fields) >= MAX_FIELDS:
            self._fail(ApiError(422, "validation_error", "Too many form fields."))

    def _part_data(self, data: bytes, start: int, end: int) -> None:
        if self.error is not None:
            return
        if self.in_file:
            self.events.append(("data", bytes(data[start:end])))
            return
        self.field_value += data[start:end]
        if len(self.field_value) > MAX_FIELD_BYTES:
            self._fail(ApiError(422, "validation_error", f"Form field '{self.name}' is too long."))

    def _part_end(self) -> None:
        if self.in_file:
            self.events.append(("end", b""))
            self.in_file = False
        elif self.name and self.error is None:
            self.fields[self.name] = self.field_value.decode("utf-8", "replace")

    def _end(self) -> None:
        self.finished = True

    def _fail(self, error: ApiError) -> None:
        if self.error is None:
            self.error = error


async def receive_upload(
    chunks: AsyncIterator[bytes],
    content_type: str | None,
    start_upload: StartUpload,
    *,
    max_bytes: int,
    allowed_types: set[str] | frozenset[str],
    file_field: str = "file",
    max_buffered: int = 4 * 1024 * 1024,
) -> UploadResult:
    """Stream a multipart body's file part into ``start_upload``; returns what was stored.

    Raises ApiError 415 (not multipart, or not a media type we accept), 413 (over ``max_bytes``) or
    422 (no file, malformed body); the S3 upload is aborted then.
    """
    parts = _Parts(file_field)
    parser = MultipartParser(boundary_of(content_type), parts.callbacks())  # type: ignore[arg-type]
    pipe = BytePipe(max_buffered)
    upload: asyncio.Task[None] | None = None
    head = bytearray()
    size = 0
    kind: MediaKind | None = None

    async def begin(data: bytes) -> None:
        nonlocal upload, kind
        kind = sniff(bytes(data[:SNIFF_BYTES]))
        if kind is None or kind.media_type not in allowed_types:
            what = f"'{kind.media_type}'" if kind else "not a recognised audio or video format"
            raise ApiError(
                415, "unsupported_media_type", f"The file is {what}; send a video (mp4, mov, mkv, webm) or audio file."
            )

        async def run() -> None:
            try:
                await start_upload(kind, pipe)  # type: ignore[arg-type]
            finally:
                await pipe.reader_done()

        upload = asyncio.create_task(run(), name="upload-to-s3")
        await pipe.write(bytes(data))

    async def feed(piece: bytes) -> None:
        nonlocal size
        size += len(piece)
        if size > max_bytes:
            raise too_large(max_bytes)
        if upload is None:
            head.extend(piece)
            if len(head) >= SNIFF_BYTES:
                await begin(head)
            return
        try:
            await pipe.write(piece)
        except PipeClosed:
            await upload  # raises the uploader's error
            raise

    async def drain() -> None:
        dropped = 0
        with contextlib.suppress(Exception):
            async for chunk in chunks:
                dropped += len(chunk)
                if dropped > DRAIN_BYTES:
                    break

    try:
        async for chunk in chunks:
            try:
                parser.write(chunk)
            except MultipartParseError as exc:
                raise ApiError(422, "malformed_multipart", f"The multipart body is malformed: {exc}") from exc
            if parts.error is not None:
                raise parts.error
            events, parts.events = parts.events, []
            for what, piece in events:
                if what == "data":
                    await feed(piece)
                elif upload is None:  # end of a file shorter than the sniffing window
                    await begin(head)
        parser.finalize()
        if not parts.file_seen:
            raise ApiError(422, "validation_error", f"No file: send it in a multipart field named '{file_field}'.")
        if not parts.finished or parts.in_file:
            raise ApiError(422, "malformed_multipart", "The multipart body ended early.")
        if upload is None:  # an empty file part
            raise ApiError(415, "unsupported_media_type", "The file is empty.")
        await pipe.close()
        await upload
    except BaseException as exc:
        await pipe.fail(exc if isinstance(exc, Exception) else ApiError(499, "aborted", "upload aborted"))
        if upload is not None:
            with contextlib.suppress(BaseException):
                await upload  # aioboto3 aborts the multipart upload when the pipe fails
        if isinstance(exc, ApiError) and exc.status in (413, 415):
            await drain()
        raise
    assert kind is not None
    return UploadResult(kind=kind, size=size, filename=parts.filename, fields=dict(parts.fields))
