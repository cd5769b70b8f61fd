"""The WebSocket: snapshot, then every event in order, fanned out across replicas through Redis."""

from __future__ import annotations

import asyncio
import json
from typing import Any

import pytest
from websockets.asyncio.client import connect
from websockets.exceptions import InvalidStatus

from tests.integration.gateway.conftest import GatewayPair, event
from tests.integration.gateway.test_gateway_api import fake_mp4, new_project, tenant_row, upload


async def receive(ws: Any) -> dict[str, Any]:
    return json.loads(await asyncio.wait_for(ws.recv(), 60))  # guards against hanging only


async def test_client_on_replica_b_gets_what_replica_a_projects(gateways: GatewayPair, tenant_factory: Any) -> None:
    tenant = await tenant_factory()
    project_id = await new_project(tenant)
    video_id = (await upload(tenant, project_id, fake_mp4(4000)))["video_id"]
    tenant_id = await tenant_row(gateways, tenant)
    assert gateways.b.runtime.consumer is not None and not gateways.b.runtime.definition.handlers  # B projects nothing

    url = f"{gateways.b.ws_url}/v1/videos/{video_id}/events"
    async with connect(url, additional_headers=tenant.headers) as ws:
        snapshot = await receive(ws)
        assert snapshot["type"] == "snapshot" and snapshot["video"]["video_id"] == video_id
        last = snapshot["version"]

        sent = [
            event("pipeline.progress", video_id, tenant_id, {"stage": "ingest", "percent": p, "message": f"{p}%"})
            for p in (10, 55, 90)
        ]
        ingested = {"duration": 9.5, "size": 4000, "sha256": "ef" * 32, "source_key": "s", "audio_key": "a"}
        sent.append(event("video.ingested", video_id, tenant_id, ingested, producer="ingest@0.1.0"))
        sent.append(event("pipeline.progress", video_id, tenant_id, {"stage": "transcribe", "percent": 5}))
        for envelope in sent:
            await gateways.publish(envelope)  # to Kafka: replica A's projector consumes them

        wanted = {e.event_id for e in sent}
        received: list[dict[str, Any]] = []
        while wanted - {m["event_id"] for m in received}:
            message = await receive(ws)
            assert message["type"] == "event"
            assert message["version"] > last  # strictly increasing, no repeats
            last = message["version"]
            received.append(message)
        mine = [m for m in received if m["event_id"] in wanted]
        # Same partition for a video: one topic's events keep their order end to end.
        progress = [m["data"]["percent"] for m in mine if m["data"].get("stage") == "ingest"]
        assert progress == [10, 55, 90]
        done = next(m for m in mine if m["event_type"] == "video.ingested")
        assert done["data"]["duration"] == 9.5 and done["correlation_id"] == sent[3].correlation_id

    # A client connecting now starts from a snapshot that already contains all of it.
    async with connect(url + f"?key={tenant.key}") as ws:
        snapshot = await receive(ws)
        assert snapshot["video"]["metadata"]["duration"] == 9.5
        assert snapshot["version"] >= last


async def test_deleting_ends_the_stream(gateways: GatewayPair, tenant_factory: Any) -> None:
    tenant = await tenant_factory()
    project_id = await new_project(tenant)
    video_id = (await upload(tenant, project_id, fake_mp4(4000)))["video_id"]
    async with connect(f"{gateways.a.ws_url}/v1/videos/{video_id}/events", additional_headers=tenant.headers) as ws:
        await receive(ws)
        assert (await tenant.client_b.delete(f"/v1/videos/{video_id}")).status_code == 202
        while True:  # the gateway's own video.deleted comes back through Kafka and the projector
            message = await receive(ws)
            if message["event_type"] == "video.deleted":
                break
        await asyncio.wait_for(ws.wait_closed(), 30)
        assert ws.close_code == 1000


@pytest.mark.parametrize("replica", ["a", "b"])
async def test_websocket_refusals_use_http_statuses(gateways: GatewayPair, tenant_factory: Any, replica: str) -> None:
    owner, intruder = await tenant_factory(), await tenant_factory()
    project_id = await new_project(owner)
    video_id = (await upload(owner, project_id, fake_mp4(4000)))["video_id"]
    base = getattr(gateways, replica).ws_url
    url = f"{base}/v1/videos/{video_id}/events"
    cases = [
        (url, {}, 401, "unauthorized"),
        (url, {"Authorization": "Bearer cf_0123456789abcdef_nope"}, 401, "invalid_api_key"),
        (url, intruder.headers, 404, "video_not_found"),
        (f"{url}?key={intruder.key}", {}, 404, "video_not_found"),
        (f"{base}/v1/videos/does-not-exist/events", owner.headers, 404, "video_not_found"),
    ]
    for target, headers, status, code in cases:
        with pytest.raises(InvalidStatus) as info:
            async with connect(target, additional_headers=headers):
                pass
        assert info.value.response.status_code == status
        assert json.loads(info.value.response.body)["error"]["code"] == code
