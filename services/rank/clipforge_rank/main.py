"""The rank service: clip candidates at sentence boundaries, scored and explained."""

from __future__ import annotations

import asyncio

from clipforge_common.service import ServiceDefinition, ServiceRuntime

from clipforge_rank.config import RankConfig, get_config, platform_settings
from clipforge_rank.handlers import make_handlers
from clipforge_rank.worker import RankWorker


def definition(config: RankConfig | None = None) -> ServiceDefinition:
    config = config or get_config()
    config.ranker()  # a broken ranker config fails at start-up, not on the first transcript
    return ServiceDefinition(
        name="rank",
        package="clipforge_rank",
        handlers=make_handlers(config),
        job_kinds_factory=lambda runtime: RankWorker(runtime, config).job_kinds(),
        group_id=config.group_id,
    )


def main() -> None:
    config = get_config()
    asyncio.run(ServiceRuntime(definition(config), platform_settings(config)).run_until_signalled())


if __name__ == "__main__":
    main()
