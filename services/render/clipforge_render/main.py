"""The render service: plan and run ffmpeg (cut, reframe, captions, thumbnail) for ranked clips."""

from __future__ import annotations

from clipforge_common.service import ServiceDefinition, run_service

from clipforge_render.config import RenderConfig, get_config
from clipforge_render.handlers import make_handlers
from clipforge_render.worker import RenderWorker


def definition(config: RenderConfig | None = None) -> ServiceDefinition:
    config = config or get_config()
    return ServiceDefinition(
        name="render",
        package="clipforge_render",
        handlers=make_handlers(config),
        job_kinds_factory=lambda runtime: RenderWorker(runtime, config).job_kinds(),
        group_id=config.group_id,
        database=config.database,
        tenants=tuple(config.tenants),
    )


def main() -> None:
    run_service(definition())


if __name__ == "__main__":
    main()
