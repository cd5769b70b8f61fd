"""The whole pipeline as five real service processes, and an audit of what it produced.

Every instance has its own consumer group and database and serves one tenant shared by the five
(so concurrent tests and a default ``clipforge up`` never mix in). Videos enter the way the gateway
hands them over: the source is put at its upload key and ``ingest.requested`` is published. After a
fault the :meth:`Platform.audit` counts every stage's events by event id and by business key, and
checks that no job, lease or outbox row was left behind.
"""

from __future__ import annotations

import asyncio
import contextlib
import time
import uuid
from collections import Counter
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import asyncpg
import httpx
from clipforge_common.contract import CONSUMES
from clipforge_common.envelope import Envelope
from clipforge_common.events import IngestOptions, IngestRequested, SourceRef
from clipforge_common.sample_media import cached_talk, talk_for_seconds
from clipforge_common.settings import SERVICES, Settings
from clipforge_common.storage import ObjectStore, video_source_key

from tests.integration.common.clip_services import EventLog, ServiceProcess, event, publish, start_group_at_end

PRESET = "square"  # half the pixels of vertical: the guarantees do not depend on the frame size
STAGE_EVENTS = ("video.ingested", "transcript.completed", "clips.ranked", "clip.rendered")
FAILURE_EVENTS = (
    "video.ingest_failed",
    "transcript.failed",
    "rank.failed",
    "clip.render_failed",
)
WATCHED = ("ingest.requested", *STAGE_EVENTS, *FAILURE_EVENTS)


def business_key(env: Envelope) -> tuple[str, ...]:
    """What must exist once: one result per video and stage, one rendition per (clip, preset)."""
    if env.event_type == "clip.rendered":
        return (env.event_type, env.data["clip_id"], env.data["preset"])
    return (env.event_type, env.video_id)


def stack_env(settings: Settings) -> dict[str, str]:
    """The variables that point a service process at ``settings``' stack (a private one in some tests)."""
    return {
        "CLIPFORGE_KAFKA_BOOTSTRAP": settings.kafka_bootstrap,
        "CLIPFORGE_PG_HOST": settings.pg_host,
        "CLIPFORGE_PG_PORT": str(settings.pg_port),
        "CLIPFORGE_REDIS_URL": settings.redis_url,
        "CLIPFORGE_S3_ENDPOINT": settings.s3_endpoint,
        "CLIPFORGE_S3_BUCKET": settings.s3_bucket,
    }


@dataclass
class Audit:
    """What one batch of videos left behind."""

    videos: list[str]
    expected: int  # business keys that must exist
    lost: int  # of those, missing
    duplicates: int  # business keys answered by more than one distinct event
    redeliveries: int  # the same event id seen again on Kafka (harmless: consumers skip it)
    failures: list[str]
    unfinished_jobs: dict[str, int]  # service -> jobs of these videos still pending/running
    unsent_outbox: dict[str, int]  # service -> outbox rows never published
    read_model_problems: list[str]
    job_reattempts: int = 0  # jobs of these videos that needed more than one attempt (informational)
    handler_retries: int = 0  # handler retries the running processes counted (informational)

    @property
    def ok(self) -> bool:
        return (
            not self.lost
            and not self.duplicates
            and not self.failures
            and not any(self.unfinished_jobs.values())
            and not any(self.unsent_outbox.values())
            and not self.read_model_problems
        )

    def summary(self) -> dict[str, Any]:
        return {
            "lost": self.lost,
            "duplicates": self.duplicates,
            "redeliveries": self.redeliveries,
            "failures": self.failures,
            "unfinished_jobs": self.unfinished_jobs,
            "unsent_outbox": self.unsent_outbox,
            "read_model_problems": self.read_model_problems,
            "job_reattempts": self.job_reattempts,
            "handler_retries": self.handler_retries,
        }


@dataclass
class Platform:
    settings: Settings
    log_dir: Path
    top_k: int = 1
    services: dict[str, ServiceProcess] = field(default_factory=dict)
    tenant: str = field(default_factory=lambda: f"tenant-res-{uuid.uuid4().hex[:10]}")
    events: EventLog | None = None
    media: Path | None = None

    async def start(self, **extra_env: str) -> Platform:
        """Start the five services (each waits until /readyz answers) and the event collector."""
        media, _script = cached_talk(talk_for_seconds(40).sentences)
        self.media = media
        env = {
            **stack_env(self.settings),
            "CLIPFORGE_JOB_LEASE_SECONDS": "6",  # a killed worker's job is claimed again within seconds
            "CLIPFORGE_HANDLER_RETRY_BASE_SECONDS": "0.5",
            "CLIPFORGE_RENDER_FFMPEG_THREADS": "2",
            **extra_env,
        }
        for name in SERVICES:
            tenants = {f"CLIPFORGE_{name.upper()}_TENANTS": self.tenant}
            service = ServiceProcess(name, self.settings, self.log_dir, {**env, **tenants})
            await start_group_at_end(self.settings, service.group_id, CONSUMES[name])
            self.services[name] = service
            service.start()
        await asyncio.gather(*(s.wait_ready() for s in self.services.values()))
        self.events = await EventLog(self.settings, WATCHED).start()
        return self

    async def stop(self) -> None:
        if self.events is not None:
            await self.events.stop()
        for service in self.services.values():
            await asyncio.to_thread(service.stop)
        for service in self.services.values():
            with contextlib.suppress(Exception):
                await service.drop_database()

    async def submit(self, count: int = 3) -> list[str]:
        """Hand ``count`` videos to ingest as the gateway would; each in its own project (no reuse by hash)."""
        assert self.media is not None
        store = ObjectStore(self.settings)
        await store.ensure_bucket()
        requests: list[Envelope] = []
        for _ in range(count):
            video_id = f"vid-{uuid.uuid4().hex[:16]}"
            key = video_source_key(video_id, self.media.suffix)
            await store.upload_file(self.media, key, "video/mp4")
            data = IngestRequested(
                project_id=f"proj-{uuid.uuid4().hex[:8]}",
                source=SourceRef(kind="upload", key=key, filename=self.media.name),
                options=IngestOptions(top_k=self.top_k, preset=PRESET),
            )
            requests.append(event("ingest.requested", data, video_id=video_id, tenant_id=self.tenant))
        await publish(self.settings, *requests)
        return [r.video_id for r in requests]

    def _done(self, videos: list[str]) -> bool:
        assert self.events is not None
        rendered = Counter(e.video_id for e in self.events.of("clip.rendered") if e.video_id in videos)
        failed = any(e.video_id in videos for t in FAILURE_EVENTS for e in self.events.of(t))
        return failed or all(rendered[v] >= self.top_k for v in videos)

    async def wait_done(self, videos: list[str], *, timeout: float = 900.0) -> None:
        """Until every video has its renders (or something failed); the timeout only guards a hang."""
        assert self.events is not None
        with contextlib.suppress(TimeoutError):
            await self.events.wait_for(lambda _e: self._done(videos), timeout=timeout, describe="all renders")

    async def audit(self, videos: list[str], *, settle: float = 60.0) -> Audit:
        """Count results by event id and business key; wait (bounded) for jobs and outboxes to drain."""
        assert self.events is not None
        deadline = time.monotonic() + settle
        while True:
            unfinished = {n: await self._unfinished_jobs(s, videos) for n, s in self.services.items()}
            unsent = {n: await self._unsent(s) for n, s in self.services.items()}
            problems = await self._read_model_problems(videos)
            if (not any(unfinished.values()) and not any(unsent.values()) and not problems) or (
                time.monotonic() > deadline
            ):
                break
            await asyncio.sleep(1.0)
        await asyncio.sleep(1.0)  # late duplicates, if any, would arrive now
        mine = [e for e in self.events.events if e.video_id in videos]
        by_id = Counter(e.event_id for e in mine)
        ids_by_key: dict[tuple[str, ...], set[str]] = {}
        for e in mine:
            if e.event_type in STAGE_EVENTS:
                ids_by_key.setdefault(business_key(e), set()).add(e.event_id)
        expected: set[tuple[str, ...]] = set()
        for video in videos:
            expected |= {(t, video) for t in STAGE_EVENTS[:3]}
        ranked = {e.video_id: e for e in mine if e.event_type == "clips.ranked"}
        for env in ranked.values():
            for clip in env.data["clips"][: self.top_k]:
                expected.add(("clip.rendered", clip["clip_id"], PRESET))
        missing_renders = sum(max(0, self.top_k - len(ranked[v].data["clips"])) for v in ranked)
        lost = len(expected - ids_by_key.keys()) + (len(videos) - len(ranked)) * self.top_k + missing_renders
        return Audit(
            videos=videos,
            expected=len(expected),
            lost=lost,
            duplicates=sum(len(ids) - 1 for ids in ids_by_key.values()),
            redeliveries=sum(n - 1 for n in by_id.values()),
            failures=[f"{e.event_type}:{e.data.get('reason_code')}" for e in mine if e.event_type in FAILURE_EVENTS],
            unfinished_jobs=unfinished,
            unsent_outbox=unsent,
            read_model_problems=problems,
            job_reattempts=sum([await self._reattempts(s, videos) for s in self.services.values()]),
            handler_retries=int(sum([await self._handler_retries(s) for s in self.services.values()])),
        )

    async def _reattempts(self, service: ServiceProcess, videos: list[str]) -> int:
        rows = await service.fetch(
            "SELECT count(*) AS n FROM jobs WHERE attempts > 1 AND video_id = ANY($1::text[])", videos
        )
        return int(rows[0]["n"])

    async def _handler_retries(self, service: ServiceProcess) -> float:
        with contextlib.suppress(httpx.HTTPError):
            return await service.metric("clipforge_events_retried_total")
        return 0.0

    async def _unfinished_jobs(self, service: ServiceProcess, videos: list[str]) -> int:
        with contextlib.suppress(asyncpg.UndefinedTableError):
            rows = await service.fetch(
                "SELECT count(*) AS n FROM jobs WHERE status IN ('pending', 'running') AND video_id = ANY($1::text[])",
                videos,
            )
            return int(rows[0]["n"])
        return 0

    async def _unsent(self, service: ServiceProcess) -> int:
        rows = await service.fetch("SELECT count(*) AS n FROM outbox WHERE sent_at IS NULL")
        return int(rows[0]["n"])

    async def _read_model_problems(self, videos: list[str]) -> list[str]:
        """The gateway's projection agrees: every stage done and one finished render per clip."""
        gateway = self.services["gateway"]
        problems: list[str] = []
        for video in videos:
            rows = await gateway.fetch("SELECT stages FROM videos WHERE video_id = $1", video)
            if not rows:
                problems.append(f"{video}: not projected")
                continue
            renders = await gateway.fetch("SELECT status FROM renders WHERE video_id = $1", video)
            done = [r for r in renders if r["status"] == "done"]
            if len(done) != self.top_k or len(renders) != self.top_k:
                problems.append(f"{video}: renders {[r['status'] for r in renders]}")
        return problems

    async def readiness(self, name: str, *, timeout: float = 5.0) -> tuple[int, dict[str, Any]]:
        """A service's /readyz status code and body (599 when it does not answer)."""
        port = self.services[name].port
        try:
            async with httpx.AsyncClient() as client:
                response = await client.get(f"http://127.0.0.1:{port}/readyz", timeout=timeout)
            return response.status_code, response.json()
        except (httpx.HTTPError, ValueError):
            return 599, {}
