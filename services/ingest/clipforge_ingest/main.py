"""The ingest service: probe, validate and hash sources; extract 16 kHz mono audio."""

from __future__ import annotations

from clipforge_common.service import ServiceDefinition, run_service

from clipforge_ingest.config import IngestConfig, get_config
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
        database=config.database,
        tenants=tuple(config.tenants),
    )


def main() -> None:
    run_service(definition())


if __name__ == "__main__":
    main()
