"""The gateway on the real stack: auth, rate limits, uploads, the projector, cached reads, isolation."""

from __future__ import annotations

import asyncio
import dataclasses
import json
import os
import time
from typing import Any

import httpx
import pytest
from aiokafka import AIOKafkaConsumer, TopicPartition
from clipforge_common.cache import view_key
from clipforge_common.captions import parse_srt, parse_vtt
from clipforge_common.envelope import Envelope
from clipforge_common.events import spec_for
from clipforge_common.transcript import Sentence, Transcript, Word
from clipforge_gateway.keys import parse_key, revoke_api_key
from clipforge_gateway.projections.repository import default_render_id

from tests.integration.gateway.conftest import MAX_UPLOAD, GatewayPair, Tenant, event, eventually

MP4_HEAD = b"\x00\x00\x00\x18ftypisom\x00\x00\x02\x00isomiso2"


def fake_mp4(size: int) -> bytes:
    return MP4_HEAD + os.urandom(max(size - len(MP4_HEAD), 0))


def error_code(response: httpx.Response) -> str:
    body = response.json()
    assert set(body) == {"error"} and body["error"]["message"], body
    return body["error"]["code"]


async def new_project(tenant: Tenant) -> str:
    response = await tenant.client.post("/v1/projects", json={"name": "talks"})
    assert response.status_code == 201, response.text
    return response.json()["project_id"]


async def upload(tenant: Tenant, project_id: str, data: bytes, **fields: str) -> dict[str, Any]:
    response = await tenant.client.post(
        f"/v1/projects/{project_id}/videos", files={"file": ("talk.mp4", data, "video/mp4")}, data=fields
    )
    assert response.status_code == 202, response.text
    return response.json()


async def end_offsets(gateways: GatewayPair, topic: str) -> dict[TopicPartition, int]:
    consumer = AIOKafkaConsumer(bootstrap_servers=gateways.settings.kafka_bootstrap, enable_auto_commit=False)
    await consumer.start()
    try:
        partitions = [TopicPartition(topic, p) for p in range(gateways.settings.kafka_partitions)]
        return dict(await consumer.end_offsets(partitions))
    finally:
        await consumer.stop()


async def find_record(gateways: GatewayPair, topic: str, start: dict[TopicPartition, int], key: str) -> Envelope:
    """The first record keyed ``key`` after ``start`` (the offsets before the request)."""
    consumer = AIOKafkaConsumer(bootstrap_servers=gateways.settings.kafka_bootstrap, enable_auto_commit=False)
    await consumer.start()
    try:
        consumer.assign(list(start))
        for tp, offset in start.items():
            consumer.seek(tp, offset)
        loop = asyncio.get_running_loop()
        deadline = loop.time() + 30  # guards against hanging only
        while loop.time() < deadline:
            batches = await consumer.getmany(timeout_ms=500)
            for records in batches.values():
                for record in records:
                    if record.key == key.encode():
                        envelope = Envelope.from_bytes(record.value)
                        assert dict(record.headers)["cf-event-id"].decode() == envelope.event_id
                        return envelope
        raise AssertionError(f"no record keyed {key} on {topic}")
    finally:
        await consumer.stop()


# ------------------------------------------------------------------------------------------ auth


async def test_every_endpoint_but_healthz_needs_a_valid_key(gateways: GatewayPair, tenant_factory: Any) -> None:
    tenant = await tenant_factory()
    async with httpx.AsyncClient(base_url=gateways.a.url) as anon:
        assert (await anon.get("/healthz")).status_code == 200
        for method, path in [
            ("GET", "/v1/projects"),
            ("POST", "/v1/projects"),
            ("GET", "/v1/projects/p"),
            ("POST", "/v1/projects/p/videos"),
            ("POST", "/v1/projects/p/imports"),
            ("GET", "/v1/videos/v"),
            ("DELETE", "/v1/videos/v"),
            ("GET", "/v1/videos/v/transcript"),
            ("GET", "/v1/videos/v/clips"),
            ("POST", "/v1/videos/v/clips/c/renders"),
            ("GET", "/v1/videos/v/renders"),
            ("GET", "/v1/videos/v/renders/r/download"),
            ("GET", "/v1/usage"),
        ]:
            response = await anon.request(method, path)
            assert response.status_code == 401, (method, path, response.text)
            assert error_code(response) == "unauthorized"
            assert response.headers["www-authenticate"].startswith("Bearer")
        forged = tenant.key[:-4] + "AAAA"
        response = await anon.get("/v1/projects", headers={"Authorization": f"Bearer {forged}"})
        assert response.status_code == 401 and error_code(response) == "invalid_api_key"
        # A revoked key (not yet cached in process) is refused at once.
        other = await gateways.new_key("revoked-" + tenant.name)
        key_id = parse_key(other)
        assert key_id is not None
        await revoke_api_key(gateways.pool, key_id)
        response = await anon.get("/v1/projects", headers={"Authorization": f"Bearer {other}"})
        assert response.status_code == 401
    assert (await tenant.client.get("/v1/projects")).status_code == 200


async def test_rate_limit_answers_429_with_retry_after(gateways: GatewayPair, tenant_factory: Any) -> None:
    tenant = await tenant_factory(rate_limit_per_minute=5)
    statuses = []
    limited = None
    # At most one window boundary can pass during the burst, so 11 requests always cross the limit.
    for _ in range(11):
        response = await tenant.client.get("/v1/projects")
        statuses.append(response.status_code)
        if response.status_code == 429:
            limited = response
            break
    assert limited is not None, statuses
    assert error_code(limited) == "rate_limited"
    assert 1 <= int(limited.headers["retry-after"]) <= 60
    assert limited.headers["x-ratelimit-limit"] == "5"
    # The limit is per key: another key of another tenant is unaffected.
    other = await tenant_factory()
    assert (await other.client.get("/v1/projects")).status_code == 200


# --------------------------------------------------------------------------------------- uploads


async def test_upload_streams_to_s3_and_queues_ingest_requested(gateways: GatewayPair, tenant_factory: Any) -> None:
    tenant = await tenant_factory()
    project_id = await new_project(tenant)
    topic = spec_for("ingest.requested", 1).topic
    before = await end_offsets(gateways, topic)
    data = fake_mp4(200_000)
    accepted = await upload(tenant, project_id, data, language="en", top_k="2", preset="square")
    video_id = accepted["video_id"]
    assert accepted["media_type"] == "video/mp4" and accepted["size"] == len(data)
    assert accepted["links"]["events"] == f"/v1/videos/{video_id}/events"

    record = await find_record(gateways, topic, before, video_id)
    assert record.event_type == "ingest.requested" and record.video_id == video_id
    assert record.correlation_id == accepted["correlation_id"]
    assert record.producer.startswith("gateway@")
    source = record.data["source"]
    assert source == {"kind": "upload", "key": f"videos/{video_id}/source.mp4", "url": None, "filename": "talk.mp4"}
    assert record.data["project_id"] == project_id
    assert record.data["options"] == {"language": "en", "top_k": 2, "preset": "square"}
    assert record.tenant_id != "" and record.tenant_id == (await tenant_row(gateways, tenant))

    head = await gateways.a.runtime.store.head(source["key"])
    assert head is not None and head["ContentLength"] == len(data) and head["ContentType"] == "video/mp4"

    video = (await tenant.client.get(f"/v1/videos/{video_id}")).json()
    assert video["project_id"] == project_id and video["stages"]["ingest"]["status"] == "pending"
    assert video["source"] == {"kind": "upload", "filename": "talk.mp4", "url": None}
    listed = (await tenant.client.get(f"/v1/projects/{project_id}/videos")).json()["items"]
    assert [v["video_id"] for v in listed] == [video_id]
    usage = (await tenant.client.get("/v1/usage")).json()["items"]
    assert any(u["metric"] == "upload_bytes" and u["amount"] == len(data) for u in usage)


async def tenant_row(gateways: GatewayPair, tenant: Tenant) -> str:
    async with gateways.pool.acquire() as conn:
        return await conn.fetchval("SELECT tenant_id FROM tenants WHERE name = $1", tenant.name)


async def test_large_upload_goes_through_s3_multipart(gateways: GatewayPair, tenant_factory: Any) -> None:
    tenant = await tenant_factory()
    project_id = await new_project(tenant)
    size = 17 * 1024 * 1024 + 123  # three 8 MiB parts
    data = fake_mp4(size)
    accepted = await upload(tenant, project_id, data)
    head = await gateways.a.runtime.store.head(f"videos/{accepted['video_id']}/source.mp4")
    assert head is not None and head["ContentLength"] == size


async def test_upload_refusals(gateways: GatewayPair, tenant_factory: Any) -> None:
    tenant = await tenant_factory()
    project_id = await new_project(tenant)
    url = f"/v1/projects/{project_id}/videos"

    response = await tenant.client.post(url, files={"file": ("talk.mp4", b"%PDF-1.7 " + b"x" * 500, "video/mp4")})
    assert response.status_code == 415 and error_code(response) == "unsupported_media_type"

    response = await tenant.client.post(url, json={"file": "nope"})
    assert response.status_code == 415

    response = await tenant.client.post(url, data={"language": "en"}, files={"other": ("a.txt", b"hi", "text/plain")})
    assert response.status_code == 422

    response = await tenant.client.post(
        url, files={"file": ("talk.mp4", fake_mp4(1000), "video/mp4")}, data={"top_k": "99"}
    )
    assert response.status_code == 422 and "top_k" in response.json()["error"]["message"]

    # Declared too large: refused before the body is read.
    too_big = fake_mp4(MAX_UPLOAD + 128 * 1024)
    response = await tenant.client.post(url, files={"file": ("big.mp4", too_big, "video/mp4")})
    assert response.status_code == 413 and error_code(response) == "file_too_large"

    # Streamed (chunked, no Content-Length) past the limit: refused once the limit is crossed.
    boundary = "b0undary"
    prefix = (f'--{boundary}\r\nContent-Disposition: form-data; name="file"; filename="big.mp4"\r\n\r\n').encode()

    async def body() -> Any:
        yield prefix
        for i in range(0, len(too_big), 1 << 20):
            yield too_big[i : i + (1 << 20)]
        yield f"\r\n--{boundary}--\r\n".encode()

    response = await tenant.client.post(
        url, content=body(), headers={"Content-Type": f"multipart/form-data; boundary={boundary}"}
    )
    assert response.status_code == 413
    # Nothing was created for the refused uploads.
    listed = (await tenant.client.get(f"/v1/projects/{project_id}/videos")).json()["items"]
    assert listed == []

    response = await tenant.client.post(
        "/v1/projects/nope/videos", files={"file": ("a.mp4", fake_mp4(100), "video/mp4")}
    )
    assert response.status_code == 404 and error_code(response) == "project_not_found"


async def test_url_import(gateways: GatewayPair, tenant_factory: Any) -> None:
    tenant = await tenant_factory()
    project_id = await new_project(tenant)
    topic = spec_for("ingest.requested", 1).topic
    before = await end_offsets(gateways, topic)
    response = await tenant.client.post(
        f"/v1/projects/{project_id}/imports", json={"url": "https://example.com/talk.mp4", "options": {"top_k": 1}}
    )
    assert response.status_code == 202, response.text
    video_id = response.json()["video_id"]
    record = await find_record(gateways, topic, before, video_id)
    assert record.data["source"]["kind"] == "url" and record.data["source"]["url"] == "https://example.com/talk.mp4"
    bad = await tenant.client.post(f"/v1/projects/{project_id}/imports", json={"url": "ftp://example.com/x"})
    assert bad.status_code == 422 and error_code(bad) == "validation_error"


# ------------------------------------------------------------------------------ projector + cache


async def test_projector_updates_the_cached_view_from_kafka(gateways: GatewayPair, tenant_factory: Any) -> None:
    tenant = await tenant_factory()
    project_id = await new_project(tenant)
    video_id = (await upload(tenant, project_id, fake_mp4(5000)))["video_id"]
    tenant_id = await tenant_row(gateways, tenant)

    async def version() -> int:
        return (await tenant.client.get(f"/v1/videos/{video_id}")).json()["version"]

    # Warm-up: the projector's group may still be joining; wait until a progress event shows.
    await gateways.publish(event("pipeline.progress", video_id, tenant_id, {"stage": "ingest", "percent": 30}))
    await eventually(lambda: _stage_percent(tenant, video_id, "ingest", 30.0), timeout=60)

    ingested = {
        "duration": 123.25,
        "width": 640,
        "height": 360,
        "fps": 25.0,
        "video_codec": "h264",
        "audio_codec": "aac",
        "container": "mov,mp4",
        "size": 5000,
        "sha256": "ab" * 32,
        "source_key": f"videos/{video_id}/source.mp4",
        "audio_key": f"videos/{video_id}/audio.wav",
    }
    before = await version()
    started = time.perf_counter()
    await gateways.publish(event("video.ingested", video_id, tenant_id, ingested, producer="ingest@0.1.0"))

    async def reflected() -> dict[str, Any] | None:
        body = (await tenant.client.get(f"/v1/videos/{video_id}")).json()
        return body if (body["metadata"] or {}).get("duration") == 123.25 else None

    body = await eventually(reflected)
    latency = time.perf_counter() - started
    print(f"\nvideo.ingested published → visible in the cached GET after {latency * 1000:.0f} ms")
    assert body["stages"]["ingest"]["status"] == "done" and body["version"] > before
    assert "audio_key" not in body["metadata"]

    # Consumer lag of the projector group is exported.
    metrics = await eventually(lambda: _lag_metrics(gateways))
    assert 'topic="clipforge.video.ingested.v1"' in metrics


async def _stage_percent(tenant: Tenant, video_id: str, stage: str, percent: float) -> bool:
    body = (await tenant.client.get(f"/v1/videos/{video_id}")).json()
    return body["stages"][stage]["percent"] == percent


async def _lag_metrics(gateways: GatewayPair) -> str | None:
    async with httpx.AsyncClient() as client:
        text = (await client.get(f"{gateways.a.url}/metrics")).text
    lines = [line for line in text.splitlines() if line.startswith("clipforge_consumer_lag{")]
    return "\n".join(lines) if lines else None


async def _version_at_least(tenant: Tenant, video_id: str, version: int) -> bool:
    return (await tenant.client.get(f"/v1/videos/{video_id}")).json()["version"] >= version


class NoSQL:
    """Stands in for the pool: any use fails the request (so a 200 proves no SQL ran)."""

    def __init__(self) -> None:
        self.touched = 0

    def __getattr__(self, name: str) -> Any:
        self.touched += 1
        raise AssertionError(f"SQL used: pool.{name}")


async def test_cached_get_runs_no_sql_and_misses_repopulate(gateways: GatewayPair, tenant_factory: Any) -> None:
    tenant = await tenant_factory()
    project_id = await new_project(tenant)
    video_id = (await upload(tenant, project_id, fake_mp4(3000)))["video_id"]
    # Let the projector apply the gateway's own ingest.requested first (it refreshes the view, with SQL).
    await eventually(lambda: _version_at_least(tenant, video_id, 2), timeout=60)
    warm = await tenant.client.get(f"/v1/videos/{video_id}")  # also caches the key record in process
    assert warm.status_code == 200
    runtime = gateways.a.runtime
    real_pool, guard = runtime.pool, NoSQL()
    runtime.pool = guard  # type: ignore[assignment]
    try:
        cached = await tenant.client.get(f"/v1/videos/{video_id}")
        assert cached.status_code == 200 and cached.json()["video_id"] == video_id
        assert guard.touched == 0
        # The guard is real: a miss (view gone from Redis) has to go to PostgreSQL and fails.
        await runtime.redis.delete(gateways.namespace + view_key("video", video_id))
        missed = await tenant.client.get(f"/v1/videos/{video_id}")
        assert missed.status_code == 500 and guard.touched > 0
    finally:
        runtime.pool = real_pool
    # With PostgreSQL back, a miss is read through and cached again.
    again = await tenant.client.get(f"/v1/videos/{video_id}")
    assert again.status_code == 200 and again.json() == cached.json()
    raw = await runtime.redis.get(gateways.namespace + view_key("video", video_id))
    assert raw is not None and json.loads(json.loads(raw)["body"]) == again.json()


async def test_an_older_view_never_replaces_a_newer_one(gateways: GatewayPair, tenant_factory: Any) -> None:
    tenant = await tenant_factory()
    project_id = await new_project(tenant)
    video_id = (await upload(tenant, project_id, fake_mp4(3000)))["video_id"]
    read_model = gateways.a.runtime.definition.http_app.state.gateway.read_model  # type: ignore[union-attr]
    current = await read_model.load("video", video_id)
    # The precondition: Redis holds the current view (events may still be projecting meanwhile, so
    # put it there rather than rely on a refresh having happened).
    await read_model.store("video", video_id, current)
    stale = dataclasses.replace(current, version=current.version - 1, body_json=json.dumps({"status": "failed"}))
    assert not await read_model.store("video", video_id, stale)
    assert (await tenant.client.get(f"/v1/videos/{video_id}")).json()["status"] == "queued"


# ------------------------------------------------------------------------------------ isolation


def sample_transcript(video_id: str) -> Transcript:
    words = [("Hello", 0.0, 0.4), ("everyone.", 0.5, 1.0), ("Clips", 1.5, 1.9), ("matter.", 2.0, 2.6)]
    return Transcript(
        video_id=video_id,
        engine="test",
        engine_version="0",
        duration=3.0,
        words=[Word(word=w, start=s, end=e) for w, s, e in words],
        sentences=[
            Sentence(text="Hello everyone.", start=0.0, end=1.0, first_word=0, last_word=1),
            Sentence(text="Clips matter.", start=1.5, end=2.6, first_word=2, last_word=3),
        ],
    )


async def fake_pipeline(gateways: GatewayPair, tenant: Tenant, video_id: str) -> dict[str, str]:
    """Ingested, transcribed, ranked and one clip rendered, as the services would report it.

    Injected into replica A's consumer rather than published, so services running on the shared stack
    do not react to them.
    """
    tenant_id = await tenant_row(gateways, tenant)
    store = gateways.a.runtime.store
    unique = video_id[-12:]
    clip_a, clip_b = f"clip-a-{unique}", f"clip-b-{unique}"
    await store.put_bytes(f"transcripts/{video_id}.json", sample_transcript(video_id).model_dump_json().encode())
    media = bytes(range(256)) * 64  # 16 KiB
    keys = {
        "video_key": f"clips/{clip_a}/vertical.mp4",
        "thumbnail_key": f"clips/{clip_a}/vertical.jpg",
        "srt_key": f"clips/{clip_a}/vertical.srt",
        "vtt_key": f"clips/{clip_a}/vertical.vtt",
    }
    await store.put_bytes(keys["video_key"], media, "video/mp4")
    await store.put_bytes(keys["thumbnail_key"], b"\xff\xd8\xff\xe0jpeg", "image/jpeg")
    await store.put_bytes(keys["srt_key"], b"1\n00:00:00,000 --> 00:00:01,000\nHello\n", "application/x-subrip")
    await store.put_bytes(keys["vtt_key"], b"WEBVTT\n\n00:00:00.000 --> 00:00:01.000\nHello\n", "text/vtt")
    events = [
        ("video.ingested", {"duration": 3.0, "size": 100, "sha256": "cd" * 32, "source_key": "s", "audio_key": "a"}),
        (
            "transcript.completed",
            {
                "transcript_key": f"transcripts/{video_id}.json",
                "engine": "test",
                "engine_version": "0",
                "language": "en",
                "word_count": 4,
                "sentence_count": 2,
                "duration": 3.0,
            },
        ),
        (
            "clips.ranked",
            {
                "ranker_version": "test-1",
                "clips": [
                    {"clip_id": clip_b, "start": 1.5, "end": 2.6, "score": 40.0, "title": "B", "reasons": ["short"]},
                    {
                        "clip_id": clip_a,
                        "start": 0.0,
                        "end": 2.6,
                        "score": 91.5,
                        "features": {"hook": 0.9},
                        "reasons": ["Strong opening"],
                        "title": "Why clips matter",
                    },
                ],
            },
        ),
        (
            "clip.rendered",
            {
                "clip_id": clip_a,
                "preset": "vertical",
                "duration": 2.6,
                "width": 1080,
                "height": 1920,
                "size": len(media),
            }
            | keys,
        ),
    ]
    for event_type, data in events:
        assert await gateways.project(event(event_type, video_id, tenant_id, data)) == "applied"
    return {"clip_a": clip_a, "clip_b": clip_b, "render_id": default_render_id(video_id, clip_a, "vertical")}


async def test_the_fake_pipeline_is_served_in_full(gateways: GatewayPair, tenant_factory: Any) -> None:
    tenant = await tenant_factory()
    project_id = await new_project(tenant)
    video_id = (await upload(tenant, project_id, fake_mp4(4000)))["video_id"]
    ids = await fake_pipeline(gateways, tenant, video_id)
    c = tenant.client

    video = (await c.get(f"/v1/videos/{video_id}")).json()
    assert video["status"] == "ready" and video["clip_count"] == 2 and video["renders"]["done"] == 1
    assert video["transcript"]["word_count"] == 4

    clips = (await c.get(f"/v1/videos/{video_id}/clips")).json()
    assert [x["clip_id"] for x in clips["clips"]] == [ids["clip_a"], ids["clip_b"]]  # best first
    best = clips["clips"][0]
    assert best["rank"] == 1 and best["score"] == 91.5 and best["title"] == "Why clips matter"
    assert best["reasons"] == ["Strong opening"] and best["features"] == {"hook": 0.9}
    assert (await c.get(f"/v1/videos/{video_id}/clips/{ids['clip_b']}")).json()["rank"] == 2

    srt = await c.get(f"/v1/videos/{video_id}/transcript", params={"format": "srt"})
    assert [cue.text for cue in parse_srt(srt.text)] == ["Hello everyone.", "Clips matter."]
    vtt = await c.get(f"/v1/videos/{video_id}/transcript", params={"format": "vtt"})
    assert len(parse_vtt(vtt.text)) == 2
    assert (await c.get(f"/v1/videos/{video_id}/transcript")).json()["words"][0]["word"] == "Hello"

    renders = (await c.get(f"/v1/videos/{video_id}/renders")).json()["renders"]
    assert [(r["render_id"], r["status"]) for r in renders] == [(ids["render_id"], "done")]
    assert set(renders[0]["files"]) == {"video", "thumbnail", "srt", "vtt"}
    download = f"/v1/videos/{video_id}/renders/{ids['render_id']}/download"
    whole = await c.get(download)
    assert whole.status_code == 200 and len(whole.content) == 16384 and whole.headers["accept-ranges"] == "bytes"
    part = await c.get(download, headers={"Range": "bytes=100-199"})
    assert part.status_code == 206 and part.content == whole.content[100:200]
    assert part.headers["content-range"] == "bytes 100-199/16384"
    tail = await c.get(download, headers={"Range": "bytes=-10"})
    assert tail.status_code == 206 and tail.content == whole.content[-10:]
    assert (await c.get(download, headers={"Range": "bytes=99999-"})).status_code == 416
    vtt_file = await c.get(download, params={"file": "vtt"})
    assert vtt_file.text.startswith("WEBVTT")
    redirect = await c.get(download, params={"redirect": "true"})
    assert redirect.status_code == 307
    async with httpx.AsyncClient() as raw:
        presigned = await raw.get(redirect.headers["location"])
    assert presigned.status_code == 200 and presigned.content == whole.content

    # Render another preset of a clip: 202 pending, then the render service's answer makes it done.
    requested = await c.post(
        f"/v1/videos/{video_id}/clips/{ids['clip_b']}/renders",
        json={"preset": "square", "caption_style": {"highlight_color": "#FFD400", "position": "top"}},
    )
    assert requested.status_code == 202, requested.text
    render = requested.json()
    assert render["status"] == "pending" and render["preset"] == "square"
    assert render["caption_style"]["highlight_color"] == "#FFD400"
    assert (await c.get(f"/v1/videos/{video_id}")).json()["status"] == "processing"
    missing = await c.post(f"/v1/videos/{video_id}/clips/nope/renders", json={"preset": "square"})
    assert missing.status_code == 404 and error_code(missing) == "clip_not_found"


async def test_another_tenants_ids_answer_404_everywhere(gateways: GatewayPair, tenant_factory: Any) -> None:
    owner, intruder = await tenant_factory(), await tenant_factory()
    project_id = await new_project(owner)
    video_id = (await upload(owner, project_id, fake_mp4(4000)))["video_id"]
    ids = await fake_pipeline(gateways, owner, video_id)
    render_id = ids["render_id"]
    requests: list[tuple[str, str, dict[str, Any]]] = [
        ("GET", f"/v1/projects/{project_id}", {}),
        ("GET", f"/v1/projects/{project_id}/videos", {}),
        ("POST", f"/v1/projects/{project_id}/videos", {"files": {"file": ("a.mp4", fake_mp4(100), "video/mp4")}}),
        ("POST", f"/v1/projects/{project_id}/imports", {"json": {"url": "https://example.com/a.mp4"}}),
        ("GET", f"/v1/videos/{video_id}", {}),
        ("GET", f"/v1/videos/{video_id}/transcript", {}),
        ("GET", f"/v1/videos/{video_id}/transcript?format=srt", {}),
        ("GET", f"/v1/videos/{video_id}/transcript?format=vtt", {}),
        ("GET", f"/v1/videos/{video_id}/clips", {}),
        ("GET", f"/v1/videos/{video_id}/clips/{ids['clip_a']}", {}),
        ("POST", f"/v1/videos/{video_id}/clips/{ids['clip_a']}/renders", {"json": {"preset": "square"}}),
        ("POST", f"/v1/videos/{video_id}/rank", {"json": {}}),
        ("GET", f"/v1/videos/{video_id}/renders", {}),
        ("GET", f"/v1/videos/{video_id}/renders/{render_id}", {}),
        ("GET", f"/v1/videos/{video_id}/renders/{render_id}/download", {}),
        ("GET", f"/v1/videos/{video_id}/renders/{render_id}/download?redirect=true", {}),
        ("DELETE", f"/v1/videos/{video_id}", {}),
    ]
    for client in (intruder.client, intruder.client_b):
        for method, path, kwargs in requests:
            response = await client.request(method, path, **kwargs)
            assert response.status_code == 404, (method, path, response.status_code, response.text)
            assert error_code(response).endswith("not_found")
    assert (await intruder.client.get("/v1/projects")).json()["items"] == []
    # ...and all of it is still there for its owner (the intruder's DELETE did nothing).
    for method, path, _ in requests:
        if method == "GET":
            response = await owner.client.get(path)
            assert response.status_code in (200, 307), (path, response.status_code, response.text)


async def test_delete_tombstones_and_removes_the_source(gateways: GatewayPair, tenant_factory: Any) -> None:
    tenant = await tenant_factory()
    project_id = await new_project(tenant)
    video_id = (await upload(tenant, project_id, fake_mp4(4000)))["video_id"]
    await fake_pipeline(gateways, tenant, video_id)
    topic = spec_for("video.deleted", 1).topic
    before = await end_offsets(gateways, topic)

    response = await tenant.client.delete(f"/v1/videos/{video_id}")
    assert response.status_code == 202 and response.json()["event_type"] == "video.deleted"
    for path in ("", "/clips", "/renders", "/transcript"):
        for client in (tenant.client, tenant.client_b):
            assert (await client.get(f"/v1/videos/{video_id}{path}")).status_code == 404
    assert (await tenant.client.delete(f"/v1/videos/{video_id}")).status_code == 404
    record = await find_record(gateways, topic, before, video_id)
    assert record.event_type == "video.deleted"
    assert (await tenant.client.get(f"/v1/projects/{project_id}/videos")).json()["items"] == []

    store = gateways.a.runtime.store
    await eventually(lambda: _gone(store, f"videos/{video_id}/source.mp4"))
    # Late events of a deleted video change nothing.
    tenant_id = await tenant_row(gateways, tenant)
    late = event("pipeline.progress", video_id, tenant_id, {"stage": "render", "percent": 50})
    assert await gateways.project(late) == "applied"
    assert (await tenant.client.get(f"/v1/videos/{video_id}")).status_code == 404


async def _gone(store: Any, key: str) -> bool:
    return not await store.exists(key)


async def test_rerank_needs_a_transcript(gateways: GatewayPair, tenant_factory: Any) -> None:
    tenant = await tenant_factory()
    project_id = await new_project(tenant)
    video_id = (await upload(tenant, project_id, fake_mp4(4000)))["video_id"]
    response = await tenant.client.post(f"/v1/videos/{video_id}/rank", json={})
    assert response.status_code == 409 and error_code(response) == "transcript_not_ready"
    await fake_pipeline(gateways, tenant, video_id)
    topic = spec_for("rank.requested", 1).topic
    before = await end_offsets(gateways, topic)
    response = await tenant.client.post(f"/v1/videos/{video_id}/rank", json={"ranker_version": "v9"})
    assert response.status_code == 202
    assert (await find_record(gateways, topic, before, video_id)).data["ranker_version"] == "v9"
    assert (await tenant.client.get(f"/v1/videos/{video_id}")).json()["stages"]["rank"]["status"] == "pending"


@pytest.mark.parametrize("page_size", [1, 2])
async def test_projects_pagination(gateways: GatewayPair, tenant_factory: Any, page_size: int) -> None:
    tenant = await tenant_factory()
    created = [await new_project(tenant) for _ in range(3)]
    seen: list[str] = []
    cursor = None
    while True:
        params = {"limit": page_size} | ({"cursor": cursor} if cursor else {})
        page = (await tenant.client.get("/v1/projects", params=params)).json()
        seen += [p["project_id"] for p in page["items"]]
        cursor = page["next_cursor"]
        if not cursor:
            break
    assert seen == list(reversed(created))


async def test_render_ids_may_repeat_across_videos(gateways: GatewayPair, tenant_factory: Any) -> None:
    """Producers choose render ids; the same id on two videos must not break the projection."""
    tenant = await tenant_factory()
    project_id = await new_project(tenant)
    tenant_id = await tenant_row(gateways, tenant)
    videos = [(await upload(tenant, project_id, fake_mp4(2000)))["video_id"] for _ in range(2)]
    for video_id in videos:
        data = {"clip_id": "c1", "preset": "vertical", "render_id": "same-id"}
        assert await gateways.project(event("render.requested", video_id, tenant_id, data)) == "applied"
    for video_id in videos:
        renders = (await tenant.client.get(f"/v1/videos/{video_id}/renders")).json()["renders"]
        assert [(r["render_id"], r["status"]) for r in renders] == [("same-id", "pending")]
