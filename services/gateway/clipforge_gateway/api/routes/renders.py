"""Renders of a video and downloads of their files (streamed with HTTP Range, or a presigned redirect)."""

from __future__ import annotations

from collections.abc import AsyncIterator
from typing import Any, Literal

from fastapi import APIRouter, Depends, Query, Request
from fastapi.responses import JSONResponse, RedirectResponse, Response, StreamingResponse

from clipforge_gateway.api.errors import ApiError, not_found
from clipforge_gateway.api.routes.common import AUTH_ERRORS, NOT_FOUND, RenderId, VideoId, _err, json_body, visible
from clipforge_gateway.api.schemas import RenderList, RenderOut
from clipforge_gateway.cache import View
from clipforge_gateway.context import GatewayContext
from clipforge_gateway.deps import Principal, get_ctx, require_principal
from clipforge_gateway.domain.ranges import RangeNotSatisfiable, parse_range

router = APIRouter(tags=["renders"], responses=AUTH_ERRORS)

FileName = Literal["video", "thumbnail", "srt", "vtt"]
_EXT = {"video": "mp4", "thumbnail": "jpg", "srt": "srt", "vtt": "vtt"}
_TYPES = {"video": "video/mp4", "thumbnail": "image/jpeg", "srt": "application/x-subrip", "vtt": "text/vtt"}


def _find(view: View, render_id: str) -> dict[str, Any]:
    for render in view.body["renders"]:
        if render["render_id"] == render_id:
            return render
    raise not_found("render")


@router.get("/v1/videos/{video_id}/renders", response_model=RenderList, responses=NOT_FOUND, summary="List renders")
async def list_renders(
    video_id: str = VideoId, principal: Principal = Depends(require_principal), ctx: GatewayContext = Depends(get_ctx)
) -> Response:
    return json_body(visible(await ctx.read_model.renders(video_id), principal))


@router.get(
    "/v1/videos/{video_id}/renders/{render_id}", response_model=RenderOut, responses=NOT_FOUND, summary="One render"
)
async def get_render(
    video_id: str = VideoId,
    render_id: str = RenderId,
    principal: Principal = Depends(require_principal),
    ctx: GatewayContext = Depends(get_ctx),
) -> JSONResponse:
    return JSONResponse(_find(visible(await ctx.read_model.renders(video_id), principal), render_id))


@router.get(
    "/v1/videos/{video_id}/renders/{render_id}/download",
    summary="Download a rendered file",
    description="Streams the file and honours `Range` (206 Partial Content); with `redirect=true` answers 307 "
    "to a short-lived presigned URL instead.",
    response_class=Response,
    responses={
        **NOT_FOUND,
        200: {"description": "The whole file", "content": {"video/mp4": {}, "image/jpeg": {}, "text/vtt": {}}},
        206: {"description": "The requested byte range"},
        307: {"description": "Redirect to a presigned URL (redirect=true)"},
        416: _err("Range outside the file"),
    },
)
async def download(
    request: Request,
    video_id: str = VideoId,
    render_id: str = RenderId,
    file: FileName = Query("video", description="video, thumbnail, srt or vtt"),
    redirect: bool = Query(False, description="answer 307 to a presigned URL"),
    principal: Principal = Depends(require_principal),
    ctx: GatewayContext = Depends(get_ctx),
) -> Response:
    view = visible(await ctx.read_model.renders(video_id), principal)
    _find(view, render_id)
    key = view.internal.get("keys", {}).get(render_id, {}).get(file)
    if not key:
        raise ApiError(404, "file_not_ready", f"The render has no {file} file yet.")
    filename = f"{render_id}.{_EXT[file]}"
    if redirect:
        url = await ctx.store.presigned_get(key, expires=ctx.config.presign_seconds, filename=filename)
        return RedirectResponse(url, status_code=307)
    head = await ctx.store.head(key)
    if head is None:
        raise ApiError(404, "file_not_found", "The file is no longer stored.")
    size = int(head["ContentLength"])
    headers = {
        "Accept-Ranges": "bytes",
        "Content-Disposition": f'attachment; filename="{filename}"',
    }
    if etag := head.get("ETag"):
        headers["ETag"] = etag
    try:
        byte_range = parse_range(request.headers.get("range"), size)
    except RangeNotSatisfiable as exc:
        raise ApiError(
            416, "range_not_satisfiable", f"The file has {size} bytes.", headers={"Content-Range": f"bytes */{size}"}
        ) from exc
    media_type = head.get("ContentType") or _TYPES[file]
    if byte_range is None:
        headers["Content-Length"] = str(size)
        return StreamingResponse(_stream(ctx, key, None), media_type=media_type, headers=headers)
    headers["Content-Range"] = byte_range.content_range(size)
    headers["Content-Length"] = str(byte_range.length)
    return StreamingResponse(
        _stream(ctx, key, byte_range.header()), status_code=206, media_type=media_type, headers=headers
    )


async def _stream(ctx: GatewayContext, key: str, byte_range: str | None) -> AsyncIterator[bytes]:
    async for chunk in ctx.store.iter_bytes(key, byte_range):
        yield chunk
