"""The transcribe service: Offline speech recognition with word timings; sentences."""

from __future__ import annotations

from clipforge_common.service import ServiceDefinition, run_service

from clipforge_transcribe.handlers import HANDLERS


def definition() -> ServiceDefinition:
    return ServiceDefinition(name="transcribe", package="clipforge_transcribe", handlers=HANDLERS)


def main() -> None:
    run_service(definition())


if __name__ == "__main__":
    main()
