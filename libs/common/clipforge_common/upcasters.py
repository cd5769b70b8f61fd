"""Upcasters: turn an old payload version into the next one so replaying history always works.

When a breaking change creates ``<type>`` v2, register ``(type, 1) -> fn(data_v1) -> data_v2`` here;
consumers then see every event at the newest version they know.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from clipforge_common.envelope import Envelope
from clipforge_common.events import latest_version

Upcaster = Callable[[dict[str, Any]], dict[str, Any]]

# (event_type, from_version) -> function producing the data of from_version + 1
UPCASTERS: dict[tuple[str, int], Upcaster] = {}


def register(event_type: str, from_version: int) -> Callable[[Upcaster], Upcaster]:
    def wrap(fn: Upcaster) -> Upcaster:
        UPCASTERS[(event_type, from_version)] = fn
        return fn

    return wrap


def upcast(envelope: Envelope, target_version: int | None = None) -> Envelope:
    """Return the envelope with its data raised step by step to ``target_version`` (default: latest)."""
    target = target_version or latest_version(envelope.event_type)
    current = envelope
    while current.event_version < target:
        step = UPCASTERS.get((current.event_type, current.event_version))
        if step is None:
            raise LookupError(f"no upcaster from {current.event_type} v{current.event_version}")
        current = current.model_copy(update={"data": step(current.data), "event_version": current.event_version + 1})
    return current
