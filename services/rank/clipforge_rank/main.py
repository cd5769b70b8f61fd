"""The rank service: clip candidates at sentence boundaries, scored and explained."""

from __future__ import annotations

from clipforge_common.service import ServiceDefinition, run_service

from clipforge_rank.config import RankConfig, get_config
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
        database=config.database,
        tenants=tuple(config.tenants),
    )


def main() -> None:
    run_service(definition())


if __name__ == "__main__":
    main()
