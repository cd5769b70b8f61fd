"""Ranked clips, and render requests for one of them."""

from __future__ import annotations

import contextlib

from fastapi import APIRouter, Depends
from fastapi.responses import JSONResponse, Response

from clipforge_gateway import commands
from clipforge_gateway.api.errors import not_found
from clipforge_gateway.api.routes.common import (
    AUTH_ERRORS,
    NOT_FOUND,
    ClipId,
    VideoId,
    _err,
    json_body,
    visible,
)
from clipforge_gateway.api.schemas import ClipList, ClipOut, RenderOut, RenderRequestIn
from clipforge_gateway.cache import RENDERS, VIDEO
from clipforge_gateway.context import GatewayContext
from clipforge_gateway.deps import Principal, get_ctx, require_principal

router = APIRouter(tags=["clips"], responses=AUTH_ERRORS)


@router.get(
    "/v1/videos/{video_id}/clips",
    response_model=ClipList,
    responses=NOT_FOUND,
    summary="Ranked clips, best first, with score, features, reasons and title",
)
async def list_clips(
    video_id: str = VideoId, principal: Principal = Depends(require_principal), ctx: GatewayContext = Depends(get_ctx)
) -> Response:
    return json_body(visible(await ctx.read_model.clips(video_id), principal))


@router.get("/v1/videos/{video_id}/clips/{clip_id}", response_model=ClipOut, responses=NOT_FOUND, summary="One clip")
async def get_clip(
    video_id: str = VideoId,
    clip_id: str = ClipId,
    principal: Principal = Depends(require_principal),
    ctx: GatewayContext = Depends(get_ctx),
) -> JSONResponse:
    view = visible(await ctx.read_model.clips(video_id), principal)
    for clip in view.body["clips"]:
        if clip["clip_id"] == clip_id:
            return JSONResponse(clip)
    raise not_found("clip")


@router.post(
    "/v1/videos/{video_id}/clips/{clip_id}/renders",
    status_code=202,
    response_model=RenderOut,
    responses={**NOT_FOUND, 413: _err("Body larger than 1 MiB")},
    summary="Render a clip with a preset and caption style",
    description="Queues `render.requested`; follow the render in the list or on the WebSocket.",
)
async def request_render(
    body: RenderRequestIn,
    video_id: str = VideoId,
    clip_id: str = ClipId,
    principal: Principal = Depends(require_principal),
    ctx: GatewayContext = Depends(get_ctx),
) -> JSONResponse:
    _env, render_id = await commands.request_render(
        ctx.pool,
        commands.Actor(tenant_id=principal.tenant_id, producer=ctx.producer),
        video_id,
        clip_id,
        body.preset,
        body.caption_style.model_dump(exclude_none=True),
    )
    view = None
    with contextlib.suppress(Exception):
        view = (await ctx.read_model.refresh_many({VIDEO, RENDERS}, video_id))[RENDERS]
    if view is None:
        view = await ctx.read_model.load(RENDERS, video_id)
    for render in visible(view, principal).body["renders"]:
        if render["render_id"] == render_id:
            return JSONResponse(render, status_code=202)
    raise not_found("render")  # re-requested concurrently by someone else: rare, and the list has it
