"""In-memory stand-ins for the stores, so routes can be tested without the stack."""

from __future__ import annotations

from collections.abc import AsyncIterator
from types import SimpleNamespace
from typing import Any

from clipforge_common.storage import ObjectNotFound
from clipforge_gateway.api.app import create_app
from clipforge_gateway.cache import View
from clipforge_gateway.config import GatewayConfig
from clipforge_gateway.context import GatewayContext
from clipforge_gateway.deps import Principal
from fastapi import FastAPI

TENANT = "tenant-a"


class FakeStore:
    def __init__(self) -> None:
        self.objects: dict[str, bytes] = {}
        self.uploads: list[str] = []

    async def get_bytes(self, key: str) -> bytes:
        try:
            return self.objects[key]
        except KeyError:
            raise ObjectNotFound(key) from None

    async def upload_fileobj(self, fileobj: Any, key: str, content_type: str | None = None) -> None:
        self.uploads.append(key)
        data = bytearray()
        while chunk := await fileobj.read(256 * 1024):
            data += chunk
        self.objects[key] = bytes(data)

    async def delete(self, key: str) -> None:
        self.objects.pop(key, None)

    async def head(self, key: str) -> dict[str, Any] | None:
        if key not in self.objects:
            return None
        return {"ContentLength": len(self.objects[key]), "ContentType": "video/mp4", "ETag": '"e"'}

    async def iter_bytes(self, key: str, byte_range: str | None = None) -> AsyncIterator[bytes]:
        data = self.objects[key]
        if byte_range:
            start, end = byte_range.removeprefix("bytes=").split("-")
            data = data[int(start) : int(end) + 1]
        yield data


class FakeReadModel:
    def __init__(self) -> None:
        self.views: dict[tuple[str, str], View] = {}

    async def video(self, video_id: str) -> View | None:
        return self.views.get(("video", video_id))

    async def clips(self, video_id: str) -> View | None:
        return self.views.get(("clips", video_id))

    async def renders(self, video_id: str) -> View | None:
        return self.views.get(("renders", video_id))


def make_app(*, authenticated: bool = True, **config: Any) -> tuple[FastAPI, GatewayContext, FakeStore, FakeReadModel]:
    ctx = GatewayContext(GatewayConfig(**config))
    store, read_model = FakeStore(), FakeReadModel()
    ctx.runtime = SimpleNamespace(store=store, pool=None, redis=None, producer="gateway@test")  # type: ignore[assignment]
    ctx.read_model = read_model  # type: ignore[assignment]
    app = create_app(ctx)
    if authenticated:
        ctx.auth = FakeAuth()
    return app, ctx, store, read_model


class FakeAuth:
    """Every request is the tenant TENANT (routes authenticate through ctx.auth)."""

    async def authenticate(self, raw_key: str | None) -> Principal:
        return Principal(tenant_id=TENANT, key_id="k")
