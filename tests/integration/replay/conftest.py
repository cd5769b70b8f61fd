"""A gateway pair (projector + API-only replica) isolated on the shared stack, following projection switches fast.

Built like tests/integration/gateway/conftest.py (its own database, base consumer group moved to the
end of every topic, Redis namespace, free ports), with the replicas polling the active-projection
pointer every 0.2 s.
"""

from __future__ import annotations

from collections.abc import AsyncIterator

import pytest
from clipforge_common.settings import Settings

from tests.integration.gateway.conftest import GatewayPair, gateway_pair, tenant_factory

__all__ = ["gateways", "tenant_factory"]


@pytest.fixture(scope="module")
async def gateways(stack: Settings) -> AsyncIterator[GatewayPair]:
    async with gateway_pair(stack, "replaytest", projection_poll_seconds=0.2) as pair:
        yield pair
