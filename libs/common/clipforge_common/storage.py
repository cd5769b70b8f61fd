"""S3 object storage (aioboto3, path-style): streamed multipart uploads, streamed downloads,
presigned URLs and prefix deletes. Whole objects are never held in memory."""

from __future__ import annotations

import contextlib
from collections.abc import AsyncIterator
from pathlib import Path
from typing import IO, Any

import aioboto3
from boto3.s3.transfer import TransferConfig
from botocore.config import Config
from botocore.exceptions import ClientError

from clipforge_common.settings import Settings


class ObjectNotFound(KeyError):
    pass


def video_source_key(video_id: str, ext: str) -> str:
    return f"videos/{video_id}/source.{ext.lstrip('.') or 'bin'}"


def video_audio_key(video_id: str) -> str:
    return f"videos/{video_id}/audio.wav"


def transcript_key(video_id: str) -> str:
    return f"transcripts/{video_id}.json"


def clip_key(clip_id: str, preset: str, ext: str) -> str:
    return f"clips/{clip_id}/{preset}.{ext.lstrip('.')}"


class ObjectStore:
    def __init__(self, settings: Settings) -> None:
        self.settings = settings
        self.bucket = settings.s3_bucket
        self._session = aioboto3.Session()
        chunk = settings.s3_multipart_chunk_mb * 1024 * 1024
        # Bounded memory: aioboto3 queues up to max_io_queue_size parts (default 100!) besides the
        # max_concurrency parts in flight, so both are kept small.
        self._transfer = TransferConfig(
            multipart_threshold=chunk,
            multipart_chunksize=chunk,
            max_concurrency=2,
            max_io_queue=2,
            io_chunksize=256 * 1024,
        )
        self._config = Config(
            s3={"addressing_style": "path"},
            signature_version="s3v4",
            # S3-compatible servers (S3Proxy among them) reject the CRC checksum headers newer
            # botocore sends by default; checksums are only computed where the API requires them.
            request_checksum_calculation="when_required",
            response_checksum_validation="when_required",
            retries={"max_attempts": 5, "mode": "standard"},
            connect_timeout=5,
            read_timeout=60,
        )

    @contextlib.asynccontextmanager
    async def client(self) -> AsyncIterator[Any]:
        async with self._session.client(
            "s3",
            endpoint_url=self.settings.s3_endpoint,
            aws_access_key_id=self.settings.s3_access_key,
            aws_secret_access_key=self.settings.s3_secret_key,
            region_name=self.settings.s3_region,
            config=self._config,
        ) as client:
            yield client

    async def ensure_bucket(self) -> None:
        async with self.client() as s3:
            try:
                await s3.head_bucket(Bucket=self.bucket)
            except ClientError:
                with contextlib.suppress(ClientError):
                    await s3.create_bucket(Bucket=self.bucket)

    async def upload_file(self, path: Path, key: str, content_type: str | None = None) -> int:
        extra = {"ContentType": content_type} if content_type else None
        async with self.client() as s3:
            await s3.upload_file(str(path), self.bucket, key, ExtraArgs=extra, Config=self._transfer)
        return path.stat().st_size

    async def upload_fileobj(self, fileobj: IO[bytes] | Any, key: str, content_type: str | None = None) -> None:
        """Stream from any (async or sync) file-like object in multipart chunks."""
        extra = {"ContentType": content_type} if content_type else None
        async with self.client() as s3:
            await s3.upload_fileobj(fileobj, self.bucket, key, ExtraArgs=extra, Config=self._transfer)

    async def put_bytes(self, key: str, data: bytes, content_type: str | None = None) -> None:
        """For small objects only (transcripts, captions)."""
        kwargs: dict[str, Any] = {"Bucket": self.bucket, "Key": key, "Body": data}
        if content_type:
            kwargs["ContentType"] = content_type
        async with self.client() as s3:
            await s3.put_object(**kwargs)

    async def get_bytes(self, key: str) -> bytes:
        async with self.client() as s3:
            try:
                response = await s3.get_object(Bucket=self.bucket, Key=key)
            except ClientError as exc:
                raise self._not_found(exc, key) from exc
            async with response["Body"] as body:
                return bytes(await body.read())

    async def download_file(self, key: str, path: Path) -> int:
        """Stream an object to disk in small chunks (aioboto3's download_file buffers far more)."""
        path.parent.mkdir(parents=True, exist_ok=True)
        size = 0
        with path.open("wb") as fh:
            async for data in self.iter_bytes(key, chunk=1024 * 1024):
                fh.write(data)
                size += len(data)
        return size

    async def iter_bytes(
        self, key: str, byte_range: str | None = None, chunk: int = 256 * 1024
    ) -> AsyncIterator[bytes]:
        kwargs: dict[str, Any] = {"Bucket": self.bucket, "Key": key}
        if byte_range:
            kwargs["Range"] = byte_range
        async with self.client() as s3:
            try:
                response = await s3.get_object(**kwargs)
            except ClientError as exc:
                raise self._not_found(exc, key) from exc
            body = response["Body"]
            try:
                while data := await body.read(chunk):
                    yield data
            finally:
                body.close()

    async def head(self, key: str) -> dict[str, Any] | None:
        async with self.client() as s3:
            try:
                return dict(await s3.head_object(Bucket=self.bucket, Key=key))
            except ClientError as exc:
                if self._is_missing(exc):
                    return None
                raise

    async def exists(self, key: str) -> bool:
        return await self.head(key) is not None

    async def list_keys(self, prefix: str) -> list[str]:
        keys: list[str] = []
        async with self.client() as s3:
            paginator = s3.get_paginator("list_objects_v2")
            async for page in paginator.paginate(Bucket=self.bucket, Prefix=prefix):
                keys.extend(obj["Key"] for obj in page.get("Contents", []))
        return keys

    async def delete(self, key: str) -> None:
        async with self.client() as s3:
            await s3.delete_object(Bucket=self.bucket, Key=key)

    async def delete_prefix(self, prefix: str) -> int:
        keys = await self.list_keys(prefix)
        # One DELETE per key: batch DeleteObjects needs a checksum header S3Proxy does not accept.
        async with self.client() as s3:
            for key in keys:
                await s3.delete_object(Bucket=self.bucket, Key=key)
        return len(keys)

    async def presigned_get(self, key: str, expires: int | None = None, filename: str | None = None) -> str:
        params: dict[str, Any] = {"Bucket": self.bucket, "Key": key}
        if filename:
            params["ResponseContentDisposition"] = f'attachment; filename="{filename}"'
        async with self.client() as s3:
            return str(
                await s3.generate_presigned_url(
                    "get_object", Params=params, ExpiresIn=expires or self.settings.s3_presign_seconds
                )
            )

    async def ping(self) -> bool:
        async with self.client() as s3:
            await s3.head_bucket(Bucket=self.bucket)
        return True

    @staticmethod
    def _is_missing(exc: ClientError) -> bool:
        return str(exc.response.get("Error", {}).get("Code")) in {"404", "NoSuchKey", "NotFound"}

    def _not_found(self, exc: ClientError, key: str) -> Exception:
        return ObjectNotFound(key) if self._is_missing(exc) else exc
