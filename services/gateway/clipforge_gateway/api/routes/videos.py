"""Videos: upload (streamed to S3), URL import, status, delete, re-rank."""

from __future__ import annotations

import contextlib
from typing import Any

from clipforge_common.envelope import new_event_id
from clipforge_common.events import IngestOptions, SourceRef
from clipforge_common.storage import video_source_key
from fastapi import APIRouter, Depends, Request
from fastapi.responses import Response
from pydantic import ValidationError

from clipforge_gateway import commands
from clipforge_gateway.api.errors import ApiError, not_found
from clipforge_gateway.api.multipart import BytePipe, check_declared_length, receive_upload
from clipforge_gateway.api.routes.common import (
    AUTH_ERRORS,
    NOT_FOUND,
    ProjectId,
    VideoId,
    _err,
    impossible_id,
    json_body,
    visible,
)
from clipforge_gateway.api.schemas import (
    Accepted,
    IngestOptionsIn,
    RankRequestIn,
    UrlImport,
    VideoAccepted,
    VideoOut,
)
from clipforge_gateway.cache import CLIPS, RENDERS, VIDEO
from clipforge_gateway.context import GatewayContext
from clipforge_gateway.deps import Principal, bearer_token, get_ctx, require_principal
from clipforge_gateway.domain.sniff import MediaKind
from clipforge_gateway.projections.views import video_links

router = APIRouter(tags=["videos"], responses=AUTH_ERRORS)

_UPLOAD_BODY: dict[str, Any] = {
    "requestBody": {
        "required": True,
        "content": {
            "multipart/form-data": {
                "schema": {
                    "type": "object",
                    "required": ["file"],
                    "properties": {
                        "file": {"type": "string", "format": "binary", "description": "the video or audio file"},
                        "language": {"type": "string", "default": "en", "example": "en"},
                        "top_k": {
                            "type": "integer",
                            "minimum": 0,
                            "maximum": 50,
                            "description": "clips to auto-render",
                        },
                        "preset": {"type": "string", "enum": ["vertical", "square", "landscape"]},
                    },
                },
                "encoding": {"file": {"contentType": "video/*, audio/*"}},
            }
        },
    }
}


def _actor(ctx: GatewayContext, principal: Principal) -> commands.Actor:
    return commands.Actor(tenant_id=principal.tenant_id, producer=ctx.producer)


def _options(fields: dict[str, str]) -> IngestOptionsIn:
    known = {k: v for k, v in fields.items() if k in {"language", "top_k", "preset"} and v != ""}
    unknown = sorted(set(fields) - {"language", "top_k", "preset"})
    if unknown:
        raise ApiError(422, "validation_error", f"Unknown form field(s): {', '.join(unknown)}.")
    try:
        return IngestOptionsIn.model_validate(known)
    except ValidationError as exc:
        first = exc.errors()[0]
        where = ".".join(str(p) for p in first["loc"])
        raise ApiError(422, "validation_error", f"{where}: {first['msg']}") from exc


async def _refresh_video(ctx: GatewayContext, video_id: str, *kinds: str) -> None:
    # The write is committed; a failed cache refresh only means the next read goes to PostgreSQL.
    with contextlib.suppress(Exception):
        await ctx.read_model.refresh_many(set(kinds) or {VIDEO}, video_id)


@router.get(
    "/v1/videos/{video_id}",
    response_model=VideoOut,
    responses=NOT_FOUND,
    summary="Get a video: status per stage, progress, metadata, failure",
    description="Served from the Redis view; PostgreSQL only on a cache miss.",
)
async def get_video(request: Request, video_id: str) -> Response:
    # The hottest read, kept lean on purpose (measured by bench/gateway.py): the first route matched,
    # one direct authentication call instead of a dependency chain (each Depends costs ~20 us here),
    # and the body sent as stored, already validated against VideoOut when the view was built.
    ctx: GatewayContext = request.app.state.gateway
    principal = await ctx.auth.authenticate(bearer_token(request.headers.get("authorization")))
    if impossible_id(video_id):
        raise not_found("video")
    return json_body(visible(await ctx.read_model.video(video_id), principal))


@router.post(
    "/v1/projects/{project_id}/videos",
    status_code=202,
    response_model=VideoAccepted,
    summary="Upload a video (multipart, streamed)",
    description="Streams the `file` part to object storage as it arrives. The type is sniffed from the "
    "content; answers 202 with the video id and queues ingestion.",
    openapi_extra=_UPLOAD_BODY,
    responses={
        **NOT_FOUND,
        413: _err("File larger than the limit"),
        415: _err("Not multipart, or not an accepted audio/video type"),
    },
)
async def upload_video(
    request: Request,
    project_id: str = ProjectId,
    principal: Principal = Depends(require_principal),
    ctx: GatewayContext = Depends(get_ctx),
) -> VideoAccepted:
    await commands.require_project(ctx.pool, principal.tenant_id, project_id)
    check_declared_length(request.headers.get("content-length"), ctx.config.max_upload_bytes)
    video_id = new_event_id()
    stored: dict[str, str] = {}

    async def start_upload(kind: MediaKind, pipe: BytePipe) -> None:
        key = video_source_key(video_id, kind.ext)
        stored["key"] = key
        await ctx.store.upload_fileobj(pipe, key, content_type=kind.media_type)

    result = await receive_upload(
        request.stream(),
        request.headers.get("content-type"),
        start_upload,
        max_bytes=ctx.config.max_upload_bytes,
        allowed_types=frozenset(ctx.config.allowed_content_types),
    )
    try:
        options = _options(result.fields)
        env = await commands.create_video(
            ctx.pool,
            _actor(ctx, principal),
            video_id=video_id,
            project_id=project_id,
            source=SourceRef(kind="upload", key=stored["key"], filename=result.filename),
            options=IngestOptions(**options.model_dump()),
            upload_bytes=result.size,
        )
    except BaseException:
        with contextlib.suppress(Exception):
            await ctx.store.delete(stored["key"])  # nothing refers to the object: do not leave it behind
        raise
    await _refresh_video(ctx, video_id)
    return VideoAccepted(
        video_id=video_id,
        project_id=project_id,
        correlation_id=env.correlation_id,
        size=result.size,
        media_type=result.kind.media_type,
        links=video_links(video_id),
    )


@router.post(
    "/v1/projects/{project_id}/imports",
    status_code=202,
    response_model=VideoAccepted,
    summary="Import a video from a URL",
    description="The ingest service downloads it (public http(s) addresses only).",
    responses={**NOT_FOUND, 413: _err("Body larger than 1 MiB")},
)
async def import_video(
    body: UrlImport,
    project_id: str = ProjectId,
    principal: Principal = Depends(require_principal),
    ctx: GatewayContext = Depends(get_ctx),
) -> VideoAccepted:
    await commands.require_project(ctx.pool, principal.tenant_id, project_id)
    video_id = new_event_id()
    env = await commands.create_video(
        ctx.pool,
        _actor(ctx, principal),
        video_id=video_id,
        project_id=project_id,
        source=SourceRef(kind="url", url=str(body.url)),
        options=IngestOptions(**body.options.model_dump()),
    )
    await _refresh_video(ctx, video_id)
    return VideoAccepted(
        video_id=video_id, project_id=project_id, correlation_id=env.correlation_id, links=video_links(video_id)
    )


@router.delete(
    "/v1/videos/{video_id}",
    status_code=202,
    response_model=Accepted,
    responses=NOT_FOUND,
    summary="Delete a video",
    description="Reads answer 404 at once; `video.deleted` tells every service to forget the video and "
    "remove its objects.",
)
async def delete_video(
    video_id: str = VideoId, principal: Principal = Depends(require_principal), ctx: GatewayContext = Depends(get_ctx)
) -> Accepted:
    env = await commands.delete_video(ctx.pool, _actor(ctx, principal), video_id, reason="deleted through the API")
    await _refresh_video(ctx, video_id, VIDEO, CLIPS, RENDERS)
    return Accepted(video_id=video_id, event_type=env.event_type, event_id=env.event_id)


@router.post(
    "/v1/videos/{video_id}/rank",
    status_code=202,
    response_model=Accepted,
    responses={**NOT_FOUND, 409: _err("Not transcribed yet"), 413: _err("Body larger than 1 MiB")},
    summary="Re-rank a video's clips",
)
async def rank_video(
    body: RankRequestIn,
    video_id: str = VideoId,
    principal: Principal = Depends(require_principal),
    ctx: GatewayContext = Depends(get_ctx),
) -> Accepted:
    env = await commands.request_rank(ctx.pool, _actor(ctx, principal), video_id, body.ranker_version, body.settings)
    await _refresh_video(ctx, video_id)
    return Accepted(video_id=video_id, event_type=env.event_type, event_id=env.event_id)
