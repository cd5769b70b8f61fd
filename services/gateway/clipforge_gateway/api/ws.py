"""WebSocket ``/v1/videos/{id}/events``: the current state, then every event of the video in order.

Authenticated like REST (``Authorization: Bearer`` or, for browsers that cannot set headers,
``?key=``). Refusals happen during the handshake with the same JSON error and status as REST (401,
404, 429), using the WebSocket Denial Response extension when the server has it.

Ordering without gaps or repeats: the subscription to the live channel is registered BEFORE the
snapshot is read, and events whose version the snapshot already contains are skipped. A client
that falls behind, or a lost pub/sub connection, is closed with 1013/1012: reconnect to resync.
"""

from __future__ import annotations

import asyncio
import contextlib

import structlog
from fastapi import APIRouter, WebSocket, WebSocketDisconnect
from starlette.websockets import WebSocketState

from clipforge_gateway.api.errors import ApiError, error_response, not_found
from clipforge_gateway.api.routes.common import impossible_id
from clipforge_gateway.context import GatewayContext
from clipforge_gateway.deps import bearer_token
from clipforge_gateway.fanout import Resync, Subscription

log = structlog.get_logger(__name__)

router = APIRouter()

CLOSE_NORMAL = 1000
CLOSE_RESTART = 1012  # pub/sub was interrupted: reconnect
CLOSE_TRY_AGAIN = 1013  # too slow a reader: reconnect


async def _deny(websocket: WebSocket, error: ApiError) -> None:
    response = error_response(error.status, error.code, error.message, error.headers)
    try:
        await websocket.send_denial_response(response)
    except RuntimeError:
        # No denial-response support in this server: close before accepting, with 4000 + HTTP status.
        await websocket.close(code=4000 + error.status, reason=error.code)


@router.websocket("/v1/videos/{video_id}/events")
async def video_events(websocket: WebSocket, video_id: str) -> None:
    ctx: GatewayContext = websocket.app.state.gateway
    raw_key = bearer_token(websocket.headers.get("authorization")) or websocket.query_params.get("key")
    try:
        principal = await ctx.auth.authenticate(raw_key)
        if impossible_id(video_id):
            raise not_found("video")
        async with ctx.fanout.subscribe(video_id) as sub:
            view = await ctx.read_model.video(video_id)
            if view is None or view.tenant_id != principal.tenant_id or view.deleted or view.body_json is None:
                raise not_found("video")
            await websocket.accept()
            await websocket.send_json({"type": "snapshot", "version": view.version, "video": view.body})
            await _pump(websocket, sub, view.version)
    except ApiError as error:
        if websocket.application_state == WebSocketState.CONNECTING:
            await _deny(websocket, error)
        else:
            await websocket.close(code=1011, reason=error.code)
    except Resync as exc:
        if websocket.application_state == WebSocketState.CONNECTING:
            await _deny(websocket, ApiError(503, "unavailable", str(exc)))
        else:
            code = CLOSE_TRY_AGAIN if "slow" in str(exc) else CLOSE_RESTART
            with contextlib.suppress(Exception):
                await websocket.close(code=code, reason=str(exc)[:120])
    except WebSocketDisconnect:
        pass


async def _pump(websocket: WebSocket, sub: Subscription, last_version: int) -> None:
    """Forward live events until the client leaves or the video is deleted."""
    receiver = asyncio.create_task(_until_disconnect(websocket))
    try:
        while True:
            getter = asyncio.ensure_future(sub.get())
            done, _ = await asyncio.wait({getter, receiver}, return_when=asyncio.FIRST_COMPLETED)
            if receiver in done:
                getter.cancel()
                return
            message = getter.result()  # raises Resync
            version = int(message.get("version", 0))
            if version <= last_version:
                continue  # already part of the snapshot (or a redelivery)
            last_version = version
            await websocket.send_json(message)
            if message.get("event_type") == "video.deleted":
                await websocket.close(code=CLOSE_NORMAL, reason="video deleted")
                return
    finally:
        receiver.cancel()
        with contextlib.suppress(asyncio.CancelledError, Exception):
            await receiver


async def _until_disconnect(websocket: WebSocket) -> None:
    """Read (and ignore) client messages; returns when the client goes away."""
    with contextlib.suppress(WebSocketDisconnect):
        while True:
            message = await websocket.receive()
            if message["type"] == "websocket.disconnect":
                return
