"""The render service: Plan and run ffmpeg: cut, reframe, captions, thumbnail."""

from __future__ import annotations

from clipforge_common.service import ServiceDefinition, run_service

from clipforge_render.handlers import HANDLERS


def definition() -> ServiceDefinition:
    return ServiceDefinition(name="render", package="clipforge_render", handlers=HANDLERS)


def main() -> None:
    run_service(definition())


if __name__ == "__main__":
    main()
