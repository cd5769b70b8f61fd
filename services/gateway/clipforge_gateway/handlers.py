"""Kafka handlers of the gateway service: thin adapters from events to the domain core."""

from __future__ import annotations

import structlog
from clipforge_common.consumer import Handler

log = structlog.get_logger(__name__)


HANDLERS: dict[str, Handler] = {}
