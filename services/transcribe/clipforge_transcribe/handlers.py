"""Kafka handlers of the transcribe service: thin adapters from events to the domain core."""

from __future__ import annotations

import structlog
from clipforge_common.consumer import Handler, HandlerContext

log = structlog.get_logger(__name__)


async def on_video_ingested(ctx: HandlerContext) -> None:
    # Skeleton: the event is recorded in the inbox; the domain work arrives with its service issue.
    log.info("event received", event_type=ctx.envelope.event_type)


HANDLERS: dict[str, Handler] = {"video.ingested": on_video_ingested}
