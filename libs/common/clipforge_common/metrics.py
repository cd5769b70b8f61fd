"""Prometheus metrics shared by every service (served at /metrics)."""

from __future__ import annotations

from prometheus_client import Counter, Gauge, Histogram

EVENTS_CONSUMED = Counter("clipforge_events_consumed_total", "Events applied", ["service", "event_type"])
EVENTS_DUPLICATE = Counter(
    "clipforge_events_duplicate_total", "Duplicate deliveries skipped", ["service", "event_type"]
)
EVENTS_RETRIED = Counter("clipforge_events_retried_total", "Handler retries after a transient error", ["service"])
EVENTS_DEAD_LETTERED = Counter("clipforge_events_dead_lettered_total", "Records sent to a DLQ", ["service", "topic"])
HANDLER_SECONDS = Histogram("clipforge_handler_seconds", "Time to apply one event", ["service", "event_type"])
OUTBOX_PUBLISHED = Counter("clipforge_outbox_published_total", "Outbox rows published", ["service"])
OUTBOX_PENDING = Gauge("clipforge_outbox_pending", "Outbox rows not yet published", ["service"])
JOBS_FINISHED = Counter("clipforge_jobs_finished_total", "Jobs finished", ["service", "kind", "outcome"])
JOBS_RUNNING = Gauge("clipforge_jobs_running", "Jobs running in this process", ["service"])
CONSUMER_LAG = Gauge("clipforge_consumer_lag", "Records behind the end of the topic", ["service", "topic", "partition"])
