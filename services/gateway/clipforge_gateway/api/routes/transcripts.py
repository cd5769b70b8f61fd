"""A video's transcript as JSON, SRT or WebVTT."""

from __future__ import annotations

from typing import Literal

from clipforge_common.captions import to_srt, to_vtt
from clipforge_common.storage import ObjectNotFound
from clipforge_common.transcript import Transcript
from fastapi import APIRouter, Depends, Query
from fastapi.responses import PlainTextResponse, Response

from clipforge_gateway.api.errors import ApiError
from clipforge_gateway.api.routes.common import AUTH_ERRORS, NOT_FOUND, VideoId, visible
from clipforge_gateway.context import GatewayContext
from clipforge_gateway.deps import Principal, get_ctx, require_principal

router = APIRouter(tags=["transcripts"], responses=AUTH_ERRORS)

# Full-transcript subtitles use the usual 42-character lines (clips use narrower ones).
SUBTITLE_LINE_CHARS = 42

_FORMATS = {
    "json": "application/json",
    "srt": "application/x-subrip; charset=utf-8",
    "vtt": "text/vtt; charset=utf-8",
}


def render_transcript(transcript: Transcript, fmt: str) -> Response:
    """The transcript in one of the formats (pure, so it is easy to test)."""
    if fmt == "srt":
        return PlainTextResponse(to_srt(transcript, max_chars=SUBTITLE_LINE_CHARS), media_type=_FORMATS["srt"])
    if fmt == "vtt":
        return PlainTextResponse(to_vtt(transcript, max_chars=SUBTITLE_LINE_CHARS), media_type=_FORMATS["vtt"])
    return Response(transcript.model_dump_json(), media_type=_FORMATS["json"])


@router.get(
    "/v1/videos/{video_id}/transcript",
    summary="Get the transcript (JSON words and sentences, SRT or VTT)",
    response_model=Transcript,
    responses={
        **NOT_FOUND,
        200: {
            "description": "The transcript",
            "content": {
                "application/x-subrip": {"example": "1\n00:00:00,000 --> 00:00:02,100\nHello and welcome\n"},
                "text/vtt": {"example": "WEBVTT\n\n00:00:00.000 --> 00:00:02.100\nHello and welcome\n"},
            },
        },
    },
)
async def get_transcript(
    video_id: str = VideoId,
    format: Literal["json", "srt", "vtt"] = Query("json", description="json, srt or vtt"),
    principal: Principal = Depends(require_principal),
    ctx: GatewayContext = Depends(get_ctx),
) -> Response:
    view = visible(await ctx.read_model.video(video_id), principal)
    key = view.internal.get("transcript_key")
    if not key:
        raise ApiError(404, "transcript_not_ready", "The video has no transcript yet; watch its events.")
    try:
        raw = await ctx.store.get_bytes(key)
    except ObjectNotFound as exc:
        raise ApiError(404, "transcript_not_found", "The transcript is no longer stored.") from exc
    transcript = Transcript.model_validate_json(raw)
    if transcript.video_id is None:
        transcript = transcript.model_copy(update={"video_id": video_id})
    return render_transcript(transcript, format)
