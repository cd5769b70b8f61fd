"""Kafka handlers of the gateway: the projector over every event type (see projections/projector.py).

They need per-process state (the versions handed to the after-commit step), so they are built with
the service definition: ``clipforge_gateway.main.definition().handlers``.
"""

from __future__ import annotations

from clipforge_common.consumer import Handler

from clipforge_gateway.projections.projector import Projector


def build_handlers() -> dict[str, Handler]:
    return Projector().handlers()
