"""Kafka handlers of the ingest service: thin adapters from events to the domain core."""

from __future__ import annotations

import structlog
from clipforge_common.consumer import Handler, HandlerContext

log = structlog.get_logger(__name__)


async def on_ingest_requested(ctx: HandlerContext) -> None:
    # Skeleton: the event is recorded in the inbox; the domain work arrives with its service issue.
    log.info("event received", event_type=ctx.envelope.event_type)


HANDLERS: dict[str, Handler] = {"ingest.requested": on_ingest_requested}
