"""`clipforge clip` through the platform, as any client would: upload via the gateway's REST API,
follow the video's WebSocket, download the rendered clips."""

from __future__ import annotations

import asyncio
import json
import os
import time
from pathlib import Path
from typing import Any, BinaryIO
from urllib.parse import urlparse

import httpx
import typer
from clipforge_common.settings import Settings, get_settings
from websockets.exceptions import ConnectionClosed
from websockets.sync.client import connect as ws_connect

from clipforge_cli.output import StageBars, console, print_table, progress_bars, slugify, write_outputs

PROJECT_NAME = "clipforge-cli"
FAILED_EVENTS = {
    "video.ingest_failed": "ingest",
    "transcript.failed": "transcribe",
    "rank.failed": "rank",
    "clip.render_failed": "render",
}
DONE_EVENTS = {"video.ingested": "ingest", "transcript.completed": "transcribe", "clips.ranked": "rank"}


class ClipFailed(Exception):
    def __init__(self, stage: str, reason_code: str, message: str) -> None:
        super().__init__(f"the {stage} stage failed ({reason_code}): {message}")
        self.stage = stage


def is_local(url: str) -> bool:
    return (urlparse(url).hostname or "") in {"127.0.0.1", "localhost", "::1"}


def key_file(settings: Settings) -> Path:
    return settings.home / "cli" / "api-key"


async def create_key(settings: Settings, tenant: str) -> str:
    """A new API key for ``tenant`` straight in the local gateway's database (prints nothing)."""
    from clipforge_common.db import open_service_database
    from clipforge_gateway.keys import create_api_key

    pool = await open_service_database(settings, "gateway", "clipforge_gateway")
    try:
        return await create_api_key(pool, tenant)
    finally:
        await pool.close()


def api_key(settings: Settings) -> str:
    """CLIPFORGE_API_KEY, else the key this CLI created for the local platform (created once)."""
    if key := os.environ.get("CLIPFORGE_API_KEY"):
        return key
    path = key_file(settings)
    if path.exists():
        return path.read_text().strip()
    if not is_local(settings.gateway_url):
        raise ClipFailed("auth", "no_api_key", f"set CLIPFORGE_API_KEY to a key of {settings.gateway_url}")
    key = asyncio.run(create_key(settings, "local"))
    path.parent.mkdir(parents=True, exist_ok=True)
    path.touch(mode=0o600)
    path.write_text(key + "\n")
    return key


def ensure_platform(settings: Settings) -> None:
    """Start the local stack and services unless the gateway already answers."""
    try:
        if httpx.get(settings.gateway_url + "/readyz", timeout=3).status_code == 200:
            return
    except httpx.HTTPError:
        pass
    if not is_local(settings.gateway_url):
        raise ClipFailed("connect", "gateway_unreachable", f"{settings.gateway_url} does not answer")
    from clipforge_cli.services_cmd import start_services

    with console.status("starting the local platform (stack and services)"):
        start_services(settings, echo=lambda _m: None)


def _check(response: httpx.Response) -> Any:
    if response.status_code >= 400:
        try:
            error = response.json()["error"]
            code, message = error["code"], error["message"]
        except (ValueError, KeyError, TypeError):
            code, message = str(response.status_code), response.text[:300]
        raise ClipFailed("gateway", code, message)
    return response.json() if response.content else None


class _ProgressReader:
    """A file wrapper that reports how much of the upload was read."""

    def __init__(self, fh: BinaryIO, on_read: Any) -> None:
        self.fh = fh
        self.on_read = on_read

    def read(self, size: int = -1) -> bytes:
        data = self.fh.read(size)
        self.on_read(len(data))
        return data


def project_id(client: httpx.Client) -> str:
    for project in _check(client.get("/v1/projects", params={"limit": 100}))["items"]:
        if project["name"] == PROJECT_NAME:
            return str(project["project_id"])
    created = _check(client.post("/v1/projects", json={"name": PROJECT_NAME, "description": "clipforge clip"}))
    return str(created["project_id"])


def submit(client: httpx.Client, project: str, source: str, *, top: int, preset: str) -> str:
    options = {"top_k": top, "preset": preset}
    if urlparse(source).scheme in {"http", "https"}:
        return str(
            _check(client.post(f"/v1/projects/{project}/imports", json={"url": source, "options": options}))["video_id"]
        )
    path = Path(source)
    if not path.is_file():
        raise ClipFailed("upload", "not_found", f"{source} is not a file or an http(s) URL")
    size = path.stat().st_size
    with progress_bars() as bars, path.open("rb") as fh:
        task = bars.add_task("upload", total=size, note=path.name)
        reader = _ProgressReader(fh, lambda n: bars.advance(task, n))
        response = client.post(
            f"/v1/projects/{project}/videos",
            data={k: str(v) for k, v in options.items()},
            files={"file": (path.name, reader, "application/octet-stream")},  # type: ignore[dict-item]
            timeout=httpx.Timeout(60, write=None),
        )
    return str(_check(response)["video_id"])


def follow(settings: Settings, client: httpx.Client, key: str, video_id: str, *, top: int) -> dict[str, Any]:
    """Follow the video's WebSocket with a bar per stage until it is ready; returns the final video."""
    ws_url = settings.gateway_url.replace("http", "ws", 1) + f"/v1/videos/{video_id}/events"
    with progress_bars() as bars:
        stages = StageBars(bars)
        deadline = time.monotonic() + 6 * 3600
        while time.monotonic() < deadline:
            try:
                with ws_connect(ws_url, additional_headers={"Authorization": f"Bearer {key}"}, open_timeout=30) as ws:
                    for raw in ws:
                        message = json.loads(raw)
                        video = message["video"] if message["type"] == "snapshot" else None
                        if message["type"] == "event":
                            video = _apply_event(stages, message, client, video_id)
                        if video is not None:
                            _show_video(stages, video)
                            if _finished(video, top):
                                return video
            except ConnectionClosed:
                time.sleep(0.5)  # the gateway asks slow clients to reconnect; the snapshot catches up
        raise ClipFailed("pipeline", "timeout", "the video was not ready after 6 hours")
    raise AssertionError("unreachable")


def _apply_event(
    stages: StageBars, message: dict[str, Any], client: httpx.Client, video_id: str
) -> dict[str, Any] | None:
    event_type, data = message["event_type"], message.get("data") or {}
    if event_type == "pipeline.progress":
        stages(data.get("stage", ""), float(data.get("percent", 0)) / 100, data.get("message", ""))
        return None
    if event_type in FAILED_EVENTS:
        raise ClipFailed(FAILED_EVENTS[event_type], data.get("reason_code", "failed"), data.get("message", ""))
    if event_type in DONE_EVENTS:
        stages(DONE_EVENTS[event_type], 1.0, "done")
    # A domain event changed the video: read its state (served from the gateway's cache).
    return dict(_check(client.get(f"/v1/videos/{video_id}")))


def _show_video(stages: StageBars, video: dict[str, Any]) -> None:
    for name, stage in video.get("stages", {}).items():
        if stage.get("status") in {"running", "done"}:
            stages(name, float(stage.get("percent", 0)) / 100, stage.get("message", "") or stage["status"])
    failure = video.get("failure")
    if video.get("status") == "failed" and failure:
        raise ClipFailed(failure["stage"], failure["reason_code"], failure["message"])


def _finished(video: dict[str, Any], top: int) -> bool:
    if video.get("status") != "ready":
        return False
    renders = video.get("renders") or {}
    return top == 0 or int(renders.get("done", 0)) + int(renders.get("failed", 0)) >= min(
        top, int(video.get("clip_count", 0))
    )


def download(
    client: httpx.Client, video_id: str, out: Path, *, preset: str
) -> tuple[list[dict[str, Any]], dict[str, Any]]:
    clip_list = _check(client.get(f"/v1/videos/{video_id}/clips"))
    renders = _check(client.get(f"/v1/videos/{video_id}/renders"))["renders"]
    done = {r["clip_id"]: r for r in renders if r["status"] == "done" and r["preset"] == preset}
    clips: list[dict[str, Any]] = []
    for clip in clip_list["clips"]:
        files: dict[str, str] = {}
        render = done.get(clip["clip_id"])
        if render is not None:
            stem = f"{clip['rank']:02d}-{slugify(clip['title'])}"
            for kind, ext in (("video", "mp4"), ("thumbnail", "jpg"), ("srt", "srt"), ("vtt", "vtt")):
                target = out / f"{stem}.{ext}"
                url = f"/v1/videos/{video_id}/renders/{render['render_id']}/download"
                with client.stream("GET", url, params={"file": kind}) as response:
                    if response.status_code >= 400:
                        response.read()
                        _check(response)
                    with target.open("wb") as fh:
                        for chunk in response.iter_bytes(1 << 20):
                            fh.write(chunk)
                files[kind] = target.name
        clips.append(
            {
                "rank": clip["rank"],
                "clip_id": clip["clip_id"],
                "start": clip["start"],
                "end": clip["end"],
                "score": clip["score"],
                "title": clip["title"],
                "hook": clip.get("hook", ""),
                "reasons": clip["reasons"],
                "features": clip["features"],
                "ranker_version": clip.get("ranker_version"),
                "files": files,
            }
        )
    raw = _check(client.get(f"/v1/videos/{video_id}/transcript", params={"format": "json"}))
    transcript = {
        "language": raw.get("language"),
        "engine": raw.get("engine"),
        "duration": raw.get("duration"),
        "words": [{k: w[k] for k in ("word", "start", "end", "confidence")} for w in raw["words"]],
        "sentences": [{k: s[k] for k in ("text", "start", "end")} for s in raw["sentences"]],
    }
    return clips, transcript


def clip_through_gateway(source: str, out: Path, *, top: int, preset: str) -> None:
    settings = get_settings()
    try:
        ensure_platform(settings)
        key = api_key(settings)
        with httpx.Client(
            base_url=settings.gateway_url, headers={"Authorization": f"Bearer {key}"}, timeout=60
        ) as client:
            project = project_id(client)
            video_id = submit(client, project, source, top=top, preset=preset)
            console.print(f"video {video_id}: queued")
            follow(settings, client, key, video_id, top=top)
            out.mkdir(parents=True, exist_ok=True)
            clips, transcript = download(client, video_id, out, preset=preset)
    except ClipFailed as exc:
        typer.echo(f"error: {exc}", err=True)
        raise typer.Exit(1) from exc
    write_outputs(out, clips, transcript)
    print_table(clips[: max(top, 10)])
    typer.echo(f"wrote {out / 'clips.json'} and {out / 'transcript.json'}")
