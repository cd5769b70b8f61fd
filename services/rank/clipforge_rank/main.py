"""The rank service: Clip candidates at sentence boundaries, scored and explained."""

from __future__ import annotations

from clipforge_common.service import ServiceDefinition, run_service

from clipforge_rank.handlers import HANDLERS


def definition() -> ServiceDefinition:
    return ServiceDefinition(name="rank", package="clipforge_rank", handlers=HANDLERS)


def main() -> None:
    run_service(definition())


if __name__ == "__main__":
    main()
