"""The whole pipeline through the gateway only, as a client sees it: upload a synthesized talk,
watch the WebSocket, list ranked clips, download a rendered clip with a Range request."""

from __future__ import annotations

import asyncio
import json

import httpx
import pytest
import websockets
from clipforge_common.captions import parse_srt
from clipforge_common.ffmpeg import ffprobe
from clipforge_common.sample_media import cached_talk

pytestmark = pytest.mark.slow

ORDER = ["video.ingested", "transcript.completed", "clips.ranked", "clip.rendered"]


async def test_upload_to_rendered_clip_through_the_gateway(platform, tmp_path):
    base, key = platform
    auth = {"Authorization": f"Bearer {key}"}
    talk, _script = cached_talk()
    async with httpx.AsyncClient(base_url=base, headers=auth, timeout=60) as client:
        project = (await client.post("/v1/projects", json={"name": "e2e"})).json()["project_id"]
        with talk.open("rb") as fh:
            accepted = await client.post(
                f"/v1/projects/{project}/videos",
                data={"top_k": "1", "preset": "vertical"},
                files={"file": ("talk.mp4", fh, "video/mp4")},
            )
        assert accepted.status_code == 202, accepted.text
        video_id = accepted.json()["video_id"]

        ws_url = base.replace("http", "ws", 1) + f"/v1/videos/{video_id}/events"
        domain_events: list[str] = []
        progress_stages: set[str] = set()
        snapshot = None
        async with websockets.connect(ws_url, additional_headers=auth) as ws:
            async with asyncio.timeout(900):  # guards against a hang only
                while "clip.rendered" not in domain_events:
                    message = json.loads(await ws.recv())
                    if message["type"] == "snapshot":
                        snapshot = snapshot or message["video"]
                        continue
                    event_type = message["event_type"]
                    assert not event_type.endswith("failed"), message
                    if event_type == "pipeline.progress":
                        progress_stages.add(message["data"]["stage"])
                    else:
                        domain_events.append(event_type)
        assert snapshot is not None and snapshot["video_id"] == video_id
        seen = [e for e in domain_events if e in ORDER]
        # In order, each once; ingest may have finished before the socket opened (then the snapshot says so).
        assert seen == sorted(set(seen), key=ORDER.index)
        assert ORDER[1:] == [e for e in ORDER[1:] if e in seen]
        if "video.ingested" not in seen:
            assert snapshot["stages"]["ingest"]["status"] in {"running", "done"}
        assert {"transcribe", "render"} <= progress_stages

        clips = (await client.get(f"/v1/videos/{video_id}/clips")).json()["clips"]
        assert clips and [c["rank"] for c in clips] == list(range(1, len(clips) + 1))
        assert all(c["reasons"] and c["title"] and 0 <= c["score"] <= 100 and c["features"] for c in clips)

        renders = (await client.get(f"/v1/videos/{video_id}/renders")).json()["renders"]
        done = [r for r in renders if r["status"] == "done"]
        assert done and done[0]["clip_id"] == clips[0]["clip_id"]
        download = f"/v1/videos/{video_id}/renders/{done[0]['render_id']}/download"
        partial = await client.get(download, headers={"Range": "bytes=0-1023"})
        assert partial.status_code == 206
        assert len(partial.content) == 1024
        assert partial.headers["content-range"].startswith("bytes 0-1023/")
        whole = await client.get(download)
        assert whole.status_code == 200 and whole.content[:1024] == partial.content
        clip_file = tmp_path / "clip.mp4"
        clip_file.write_bytes(whole.content)
        probe = ffprobe(clip_file)
        streams = {s["codec_type"]: s for s in probe["streams"]}
        assert streams["video"]["codec_name"] == "h264" and streams["audio"]["codec_name"] == "aac"
        assert abs(float(probe["format"]["duration"]) - (clips[0]["end"] - clips[0]["start"])) < 0.1

        srt = await client.get(f"/v1/videos/{video_id}/transcript", params={"format": "srt"})
        assert srt.status_code == 200
        cues = parse_srt(srt.text)
        assert len(cues) > 5
