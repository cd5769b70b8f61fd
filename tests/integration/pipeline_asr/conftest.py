"""Session fixtures: the ingest and transcribe services running as processes for a tenant of our own."""

from __future__ import annotations

import contextlib
import uuid
from collections.abc import AsyncIterator
from pathlib import Path

import pytest
from aiokafka import AIOKafkaProducer
from clipforge_common.sample_media import SpeechScript, cached_talk
from clipforge_common.settings import Settings
from clipforge_common.storage import ObjectStore, transcript_key

from tests.integration.common.clip_services import start_group_at_end, tenant_service
from tests.integration.pipeline_asr.harness import (
    LOOPBACK_NAME,
    MEDIA_IP,
    MEDIA_NAME,
    AsrStack,
    EventLog,
)


@pytest.fixture(scope="session")
def talk_video() -> tuple[Path, SpeechScript]:
    """About 60 s of hibari-tts talk muxed into a 640x360 H.264/AAC video (cached)."""
    return cached_talk()


@pytest.fixture(scope="session")
def short_talk_sentences() -> tuple[str, ...]:
    return (
        "Have you ever wondered why your morning coffee tastes so bitter?",
        "The answer is usually hiding in the water temperature.",
    )


@pytest.fixture(scope="session")
def service_logs(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return tmp_path_factory.mktemp("service-logs")


@pytest.fixture(scope="session")
async def asr_base(stack: Settings) -> AsyncIterator[AsrStack]:
    """Event log, producer and a tenant of our own; no services yet."""
    events = EventLog(stack)
    await events.start()
    producer = AIOKafkaProducer(bootstrap_servers=stack.kafka_bootstrap, acks="all", enable_idempotence=True)
    await producer.start()
    store = ObjectStore(stack)
    await store.ensure_bucket()
    base = AsrStack(stack, store, events, producer, tenant=f"tenant-{uuid.uuid4().hex[:10]}", project="project-1")
    try:
        yield base
    finally:
        await producer.stop()
        await events.stop()
        for video_id in base.videos:
            with contextlib.suppress(Exception):
                await store.delete_prefix(f"videos/{video_id}/")
                await store.delete(transcript_key(video_id))


@pytest.fixture(scope="session")
async def asr(asr_base: AsrStack, service_logs: Path) -> AsyncIterator[AsrStack]:
    """The ingest and transcribe services running for the session's tenant."""
    settings = asr_base.settings
    ingest = tenant_service(
        "ingest",
        settings,
        service_logs,
        asr_base.tenant,
        CLIPFORGE_INGEST_ALLOWED_NETWORKS=f"{MEDIA_IP}/32",
        CLIPFORGE_INGEST_DNS_OVERRIDES=f'{{"{LOOPBACK_NAME}": ["127.0.0.1"], "{MEDIA_NAME}": ["{MEDIA_IP}"]}}',
        CLIPFORGE_INGEST_DOWNLOAD_TIMEOUT_S="10",
    )
    transcribe = tenant_service("transcribe", settings, service_logs, asr_base.tenant)
    await start_group_at_end(settings, ingest.group_id, ["ingest.requested", "video.deleted"])
    await start_group_at_end(settings, transcribe.group_id, ["video.ingested", "video.deleted"])
    asr_base.ingest, asr_base.transcribe = ingest, transcribe
    try:
        ingest.start()
        transcribe.start()
        await ingest.wait_ready()
        await transcribe.wait_ready()
        yield asr_base
    finally:
        codes = {p.name: p.stop() for p in (ingest, transcribe)}
        for p in (ingest, transcribe):
            with contextlib.suppress(Exception):
                await p.drop_database()
        # A clean SIGTERM shutdown is part of the contract; show the logs if it was not.
        assert all(c in (0, None) for c in codes.values()), (codes, ingest.log_tail(), transcribe.log_tail())
