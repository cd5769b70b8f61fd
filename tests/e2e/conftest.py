"""The running platform for end-to-end tests."""

from __future__ import annotations

import asyncio
import uuid
from collections.abc import Iterator

import pytest
from clipforge_cli.remote_clip import create_key
from clipforge_cli.services_cmd import service_health, start_services, stop_services
from clipforge_common.settings import SERVICES, Settings


# Module scope: pytest gives a conftest in a folder without __init__.py no package scope (it would
# become session-wide), and default-group services left running would take other tests' videos.
@pytest.fixture(scope="module")
def platform(stack: Settings) -> Iterator[tuple[str, str]]:
    """The five services (started here unless already running) and a fresh tenant's key."""
    running = all(service_health(stack, name, "/readyz")[0] for name in SERVICES)
    if not running:
        start_services(stack, with_stack=False, echo=lambda _m: None)
    key = asyncio.run(create_key(stack, f"e2e-{uuid.uuid4().hex[:8]}"))
    try:
        yield stack.gateway_url, key
    finally:
        if not running:
            stop_services(stack)
