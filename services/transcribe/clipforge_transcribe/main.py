"""The transcribe service: offline speech recognition with word timings; sentences."""

from __future__ import annotations

import asyncio

from clipforge_common.service import ServiceDefinition, ServiceRuntime, run_service

from clipforge_transcribe.config import TranscribeConfig, get_config
from clipforge_transcribe.handlers import make_handlers
from clipforge_transcribe.worker import TranscribeWorker, engine_pool


def definition(config: TranscribeConfig | None = None) -> ServiceDefinition:
    config = config or get_config()
    engines = engine_pool(config)

    async def warm_engine(_runtime: ServiceRuntime) -> None:
        # Fail at start-up (missing package, model or API key) rather than on every job.
        await asyncio.to_thread(engines.warm)

    return ServiceDefinition(
        name="transcribe",
        package="clipforge_transcribe",
        handlers=make_handlers(config),
        job_kinds_factory=lambda runtime: TranscribeWorker(runtime, config, engines).job_kinds(),
        on_start=(warm_engine,),
        group_id=config.group_id,
        database=config.database,
        tenants=tuple(config.tenants),
    )


def main() -> None:
    run_service(definition())


if __name__ == "__main__":
    main()
