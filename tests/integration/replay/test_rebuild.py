"""`clipforge replay rebuild|switch|drop`: a rebuilt projection equals the live one, and replicas follow the switch."""

from __future__ import annotations

import json
import uuid
from typing import Any

import asyncpg
import pytest
from clipforge_common.cache import create_redis
from clipforge_common.envelope import Envelope
from clipforge_common.events import (
    ClipRendered,
    ClipsRanked,
    IngestRequested,
    RankedClipData,
    SourceRef,
    TranscriptCompleted,
    VideoIngested,
    VideoIngestFailed,
)
from clipforge_gateway.cache import CLIPS, RENDERS, VIDEO, ReadModel
from clipforge_gateway.keys import tenant_id_for
from clipforge_gateway.projections import operations
from clipforge_gateway.projections.runner import PoolBackend
from clipforge_gateway.projections.versions import ProjectionError, ProjectionTarget, open_projection_pool

from tests.integration.gateway.conftest import GatewayPair, event, eventually

pytestmark = pytest.mark.slow

# Set when the row is written (projection time), not carried by events: a rebuild cannot reproduce them.
PROJECTION_TIME_FIELDS = {"created_at", "updated_at"}


def comparable(doc: Any) -> Any:
    if isinstance(doc, dict):
        return {k: comparable(v) for k, v in doc.items() if k not in PROJECTION_TIME_FIELDS}
    if isinstance(doc, list):
        return [comparable(v) for v in doc]
    return doc


def video_events(video_id: str, tenant_id: str) -> list[Envelope]:
    key = f"videos/{video_id}/source.mp4"

    def ev(event_type: str, data: Any) -> Envelope:
        return event(event_type, video_id, tenant_id, data.model_dump(mode="json"))

    clips = [
        RankedClipData(clip_id=f"{video_id}-c1", start=1.0, end=21.0, score=88.0, title="best", reasons=["hook"]),
        RankedClipData(clip_id=f"{video_id}-c2", start=30.0, end=52.5, score=61.5, title="second"),
    ]
    return [
        ev("ingest.requested", IngestRequested(project_id="p1", source=SourceRef(kind="upload", key=key))),
        ev(
            "video.ingested",
            VideoIngested(
                duration=60.0, width=640, height=360, size=1000, sha256="0" * 64, source_key=key, audio_key="a.wav"
            ),
        ),
        ev(
            "transcript.completed",
            TranscriptCompleted(
                transcript_key=f"transcripts/{video_id}.json",
                engine="pocketsphinx",
                engine_version="5",
                language="en",
                word_count=120,
                sentence_count=9,
                duration=60.0,
            ),
        ),
        ev("clips.ranked", ClipsRanked(ranker_version="r1", clips=clips)),
        ev(
            "clip.rendered",
            ClipRendered(
                clip_id=clips[0].clip_id,
                preset="vertical",
                video_key=f"clips/{clips[0].clip_id}/vertical.mp4",
                thumbnail_key="t.jpg",
                srt_key="s.srt",
                vtt_key="s.vtt",
                duration=20.0,
                width=1080,
                height=1920,
                size=5000,
            ),
        ),
    ]


async def views(pool: asyncpg.Pool, video_id: str) -> dict[str, Any]:
    """The three views of a video built from one projection's tables (bodies as documents)."""
    model = ReadModel(PoolBackend(pool, None))
    out: dict[str, Any] = {}
    for kind in (VIDEO, CLIPS, RENDERS):
        view = await model.load(kind, video_id)
        assert view is not None, (kind, video_id)
        out[kind] = {"version": view.version, "body": comparable(view.body)}
    return out


async def api_clip_titles(client: Any, video_id: str) -> list[str]:
    response = await client.get(f"/v1/videos/{video_id}/clips")
    assert response.status_code == 200, response.text
    return [c["title"] for c in response.json()["clips"]]


async def test_rebuild_equals_live_projection_and_replicas_follow_the_switch(
    gateways: GatewayPair, tenant_factory: Any
) -> None:
    tenant = await tenant_factory()
    tenant_id = await tenant_id_for(gateways.pool, tenant.name)
    assert tenant_id is not None
    ok, failed = f"vid-{uuid.uuid4().hex[:12]}", f"vid-{uuid.uuid4().hex[:12]}"
    published = [
        *video_events(ok, tenant_id),
        event("ingest.requested", failed, tenant_id, video_events(failed, tenant_id)[0].data),
        event(
            "video.ingest_failed",
            failed,
            tenant_id,
            VideoIngestFailed(reason_code="no_audio_track", message="no audio").model_dump(),
        ),
    ]
    for env in published:
        await gateways.publish(env)

    async def live_done() -> bool:
        a = await tenant.client.get(f"/v1/videos/{ok}")
        b = await tenant.client.get(f"/v1/videos/{failed}")
        return (
            a.status_code == 200
            and a.json()["renders"]["done"] == 1
            and b.status_code == 200
            and b.json()["status"] == "failed"
        )

    await eventually(live_done, timeout=60)

    deployment = operations.Deployment(
        database=gateways.settings.database_for("gateway"),
        base_group=gateways.group_id,
        base_namespace=gateways.namespace,
    )
    progress: list[int] = []
    result = await operations.rebuild(
        gateways.settings,
        deployment,
        version=1,
        tenants=[tenant_id],
        switch=False,
        on_progress=lambda p: progress.append(p.lag),
        poll_seconds=0.2,
    )
    target = result.target
    assert target == ProjectionTarget.for_version(1, base_group=gateways.group_id, base_namespace=gateways.namespace)
    assert progress and progress[-1] == 0
    assert result.progress.outcomes.get("applied", 0) >= len(published)

    # Same read model in both versions (event-derived fields, versions included).
    v1_pool = await open_projection_pool(gateways.settings, deployment.database, target)
    try:
        for video_id in (ok, failed):
            assert await views(v1_pool, video_id) == await views(gateways.pool, video_id)
        rows = await v1_pool.fetch("SELECT video_id FROM videos ORDER BY video_id")
        assert sorted(r["video_id"] for r in rows) == sorted([ok, failed])
    finally:
        await v1_pool.close()

    # Make version 0 recognisable, and prove the API reads it before the switch.
    await gateways.pool.execute("UPDATE public.clips SET title = 'stale-v0' WHERE video_id = $1", ok)
    redis = create_redis(gateways.settings)
    try:
        await redis.delete(f"{gateways.namespace}view:clips:{ok}")
        assert await api_clip_titles(tenant.client_b, ok) == ["stale-v0", "stale-v0"]

        target_now, previous = await operations.switch_to(gateways.settings, deployment, 1)
        assert (target_now, previous) == (target, 0)

        async def reads_v1(client: Any) -> bool:
            return await api_clip_titles(client, ok) == ["best", "second"]

        await eventually(lambda: reads_v1(tenant.client), timeout=60)  # projector replica
        await eventually(lambda: reads_v1(tenant.client_b), timeout=60)  # API-only replica
        assert await redis.exists(f"{target.namespace}view:clips:{ok}")
        active, infos = await operations.status(gateways.settings, deployment)
        assert active == 1 and [(i.target.version, i.status, i.active) for i in infos] == [(1, "ready", True)]

        # The projector replica keeps the active version current: a new event reaches v1's reads.
        rendered = ClipRendered(**{**video_events(ok, tenant_id)[-1].data, "clip_id": f"{ok}-c2"})
        await gateways.publish(event("clip.rendered", ok, tenant_id, rendered.model_dump(mode="json")))

        async def second_render() -> bool:
            response = await tenant.client_b.get(f"/v1/videos/{ok}/renders")
            return response.status_code == 200 and sum(r["status"] == "done" for r in response.json()["renders"]) == 2

        await eventually(second_render, timeout=60)
        assert await api_clip_titles(tenant.client_b, ok) == ["best", "second"]

        # The read version cannot be dropped; switching back is immediate, then it can.
        with pytest.raises(ProjectionError):
            await operations.drop(gateways.settings, deployment, 1)
        await operations.switch_to(gateways.settings, deployment, 0)
        await redis.delete(f"{gateways.namespace}view:clips:{ok}")

        async def reads_v0() -> bool:
            return await api_clip_titles(tenant.client_b, ok) == ["stale-v0", "stale-v0"]

        await eventually(reads_v0, timeout=60)
        dropped, _removed = await operations.drop(gateways.settings, deployment, 1)
        assert dropped == target
        assert not await gateways.pool.fetchval(
            "SELECT 1 FROM information_schema.schemata WHERE schema_name = $1", target.schema_name
        )
        assert [k async for k in redis.scan_iter(match=f"{target.namespace}*")] == []
        assert not await gateways.pool.fetchval(
            "SELECT 1 FROM processed_events WHERE consumer_group = $1 LIMIT 1", target.group_id
        )
    finally:
        await redis.aclose()
    assert json.dumps(progress)  # progress was reported as plain numbers

    # The same version built again after a drop starts from the beginning (not its old group offsets).
    again = await operations.rebuild(
        gateways.settings, deployment, version=1, tenants=[tenant_id], switch=False, poll_seconds=0.2
    )
    assert not again.resumed
    v1_pool = await open_projection_pool(gateways.settings, deployment.database, target)
    try:
        assert await views(v1_pool, failed) == await views(gateways.pool, failed)
    finally:
        await v1_pool.close()
