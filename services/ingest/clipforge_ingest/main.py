"""The ingest service: probe, validate and hash sources; extract 16 kHz mono audio."""

from __future__ import annotations

import asyncio

from clipforge_common.service import ServiceDefinition, ServiceRuntime

from clipforge_ingest.config import IngestConfig, get_config, platform_settings
from clipforge_ingest.handlers import make_handlers
from clipforge_ingest.worker import IngestWorker


def definition(config: IngestConfig | None = None) -> ServiceDefinition:
    config = config or get_config()
    return ServiceDefinition(
        name="ingest",
        package="clipforge_ingest",
        handlers=make_handlers(config),
        job_kinds_factory=lambda runtime: IngestWorker(runtime, config).job_kinds(),
        group_id=config.group_id,
    )


def main() -> None:
    config = get_config()
    asyncio.run(ServiceRuntime(definition(config), platform_settings(config)).run_until_signalled())


if __name__ == "__main__":
    main()
