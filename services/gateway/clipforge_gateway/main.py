"""The gateway service: REST and WebSocket API, and the projector of every event into read models."""

from __future__ import annotations

from clipforge_common.service import ServiceDefinition, run_service

from clipforge_gateway.api.app import create_app
from clipforge_gateway.config import GatewayConfig
from clipforge_gateway.context import GatewayContext


def definition(config: GatewayConfig | None = None, *, group_id: str | None = None) -> ServiceDefinition:
    """The gateway as a service; ``projector_enabled=False`` makes an API-only replica."""
    config = config or GatewayConfig()
    ctx = GatewayContext(config, group_id=group_id)
    projecting = config.projector_enabled
    return ServiceDefinition(
        name="gateway",
        package="clipforge_gateway",
        handlers=ctx.projector.handlers() if projecting else {},
        job_kinds_factory=lambda runtime: [ctx.purge_job(runtime)],
        uses_redis=True,
        http_app=create_app(ctx),
        on_start=[ctx.start],
        on_stop=[ctx.stop],
        group_id=ctx.group_id,
        database=config.database,
        tenants=config.tenants,
        on_applied=ctx.after_commit if projecting else None,
    )


def main() -> None:
    run_service(definition())


if __name__ == "__main__":
    main()
