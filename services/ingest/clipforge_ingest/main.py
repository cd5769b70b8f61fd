"""The ingest service: Probe, validate and hash sources; extract 16 kHz mono audio."""

from __future__ import annotations

from clipforge_common.service import ServiceDefinition, run_service

from clipforge_ingest.handlers import HANDLERS


def definition() -> ServiceDefinition:
    return ServiceDefinition(name="ingest", package="clipforge_ingest", handlers=HANDLERS)


def main() -> None:
    run_service(definition())


if __name__ == "__main__":
    main()
