"""The gateway service: REST and WebSocket API; projections of every event into read models."""

from __future__ import annotations

from clipforge_common.service import ServiceDefinition, run_service

from clipforge_gateway.handlers import HANDLERS


def definition() -> ServiceDefinition:
    return ServiceDefinition(name="gateway", package="clipforge_gateway", handlers=HANDLERS, uses_redis=True)


def main() -> None:
    run_service(definition())


if __name__ == "__main__":
    main()
