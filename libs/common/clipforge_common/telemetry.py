"""OpenTelemetry and structlog set-up shared by every process."""

from __future__ import annotations

import logging
import sys
from functools import lru_cache

import structlog
from opentelemetry import trace
from opentelemetry.sdk.resources import Resource
from opentelemetry.sdk.trace import TracerProvider
from opentelemetry.sdk.trace.export import BatchSpanProcessor, ConsoleSpanExporter

from clipforge_common.settings import Settings

_service_name = "clipforge"


@lru_cache(maxsize=1)
def tracer_provider() -> TracerProvider:
    provider = TracerProvider(resource=Resource.create({"service.name": _service_name}))
    return provider


def setup_telemetry(settings: Settings, service: str) -> TracerProvider:
    """Name the process's tracer provider and attach the configured exporter."""
    global _service_name
    _service_name = f"clipforge-{service}"
    tracer_provider.cache_clear()
    provider = tracer_provider()
    if settings.otel_exporter == "console":
        provider.add_span_processor(BatchSpanProcessor(ConsoleSpanExporter(out=sys.stderr)))
    trace.set_tracer_provider(provider)
    return provider


def setup_logging(settings: Settings, service: str) -> None:
    """JSON logs on stderr; correlation ids bound with structlog.contextvars appear on every line."""
    level = getattr(logging, settings.log_level.upper(), logging.INFO)
    renderer: structlog.types.Processor = (
        structlog.processors.JSONRenderer() if settings.log_json else structlog.dev.ConsoleRenderer()
    )
    structlog.configure(
        processors=[
            structlog.contextvars.merge_contextvars,
            structlog.processors.add_log_level,
            structlog.processors.TimeStamper(fmt="iso", utc=True),
            structlog.processors.StackInfoRenderer(),
            structlog.processors.format_exc_info,
            renderer,
        ],
        wrapper_class=structlog.make_filtering_bound_logger(level),
        logger_factory=structlog.PrintLoggerFactory(file=sys.stderr),
        cache_logger_on_first_use=True,
    )
    structlog.contextvars.bind_contextvars(service=service)
    logging.basicConfig(level=max(level, logging.WARNING), stream=sys.stderr)
