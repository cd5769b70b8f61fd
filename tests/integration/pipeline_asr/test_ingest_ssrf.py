"""URL imports: a public-looking media link is downloaded and stored; links into ClipForge's own network
are refused with ``video.ingest_failed`` before any connection is made.

The session's ingest runs with its production SSRF policy plus exactly one opened address,
127.0.0.2 (where the "public" media server of this test listens, behind the name media.example-cdn.com),
and a hosts-style override that makes cdn.example-videos.com resolve to 127.0.0.1.
"""

from __future__ import annotations

import hashlib
import http.server
import threading
from collections.abc import Iterator
from pathlib import Path
from typing import ClassVar

import pytest
from clipforge_common.events import VideoIngested, VideoIngestFailed
from clipforge_common.sample_media import cached_talk
from clipforge_common.storage import video_audio_key

from tests.integration.pipeline_asr.harness import LOOPBACK_NAME, MEDIA_IP, MEDIA_NAME, AsrStack


class _Handler(http.server.BaseHTTPRequestHandler):
    body: ClassVar[bytes] = b""
    redirect_to: ClassVar[str] = ""
    hits: ClassVar[list[str]]

    def do_GET(self) -> None:
        self.hits.append(self.path)
        if self.path.startswith("/to-loopback"):
            self.send_response(302)
            self.send_header("Location", self.redirect_to)
            self.send_header("Content-Length", "0")
            self.end_headers()
            return
        self.send_response(200)
        self.send_header("Content-Type", "video/mp4")
        self.send_header("Content-Length", str(len(self.body)))
        self.end_headers()
        self.wfile.write(self.body)

    def log_message(self, *_args: object) -> None:
        pass


def _serve(host: str, body: bytes, redirect_to: str = "") -> tuple[http.server.ThreadingHTTPServer, list[str]]:
    hits: list[str] = []
    handler = type("Handler", (_Handler,), {"body": body, "redirect_to": redirect_to, "hits": hits})
    server = http.server.ThreadingHTTPServer((host, 0), handler)
    threading.Thread(target=server.serve_forever, daemon=True).start()
    return server, hits


@pytest.fixture(scope="module")
def servers(short_talk_sentences: tuple[str, ...]) -> Iterator[dict]:
    talk, _ = cached_talk(short_talk_sentences, suffix=".mp4")
    body = talk.read_bytes()
    # An internal service on loopback: nothing may ever reach it.
    internal, internal_hits = _serve("127.0.0.1", b"internal secrets")
    lport = internal.server_address[1]
    public, public_hits = _serve(MEDIA_IP, body, redirect_to=f"http://127.0.0.1:{lport}/admin")
    try:
        yield {
            "lport": lport,
            "media": f"http://{MEDIA_NAME}:{public.server_address[1]}",
            "internal_hits": internal_hits,
            "public_hits": public_hits,
            "talk": talk,
        }
    finally:
        for server in (internal, public):
            server.shutdown()
            server.server_close()


async def test_public_media_link_is_downloaded_and_stored(asr: AsrStack, servers: dict) -> None:
    video_id = await asr.ingest_url(servers["media"] + "/talks/coffee.mp4")
    answer = await asr.events.wait_for(video_id, "video.ingested", "video.ingest_failed")
    assert answer.event_type == "video.ingested", answer.data
    ingested = VideoIngested.model_validate(answer.data)
    talk: Path = servers["talk"]
    assert ingested.source_key == f"videos/{video_id}/source.mp4"
    assert ingested.sha256 == hashlib.sha256(talk.read_bytes()).hexdigest()
    assert await asr.store.get_bytes(ingested.source_key) == talk.read_bytes()
    assert await asr.store.exists(video_audio_key(video_id))
    assert "/talks/coffee.mp4" in servers["public_hits"]


REFUSED = {
    "loopback literal": ("http://127.0.0.1:{lport}/admin", "forbidden_address"),
    "IPv6 loopback": ("http://[::1]:{lport}/admin", "forbidden_address"),
    "cloud metadata": ("http://169.254.169.254/latest/meta-data/", "forbidden_address"),
    "private network": ("http://10.0.0.1/video.mp4", "forbidden_address"),
    "public-looking name on loopback": (f"http://{LOOPBACK_NAME}:{{lport}}/admin", "forbidden_address"),
    "redirect to loopback": ("{media}/to-loopback", "forbidden_address"),
    "file scheme": ("file:///etc/passwd", "bad_scheme"),
}


@pytest.mark.parametrize("case", list(REFUSED))
async def test_ssrf_attempt_is_refused(asr: AsrStack, servers: dict, case: str) -> None:
    template, reason = REFUSED[case]
    url = template.format(lport=servers["lport"], media=servers["media"])
    video_id = await asr.ingest_url(url)

    answer = await asr.events.wait_for(video_id, "video.ingested", "video.ingest_failed")
    assert answer.event_type == "video.ingest_failed", answer.data
    failed = VideoIngestFailed.model_validate(answer.data)
    assert failed.reason_code == reason, failed
    assert failed.message
    assert await asr.keys_of(video_id) == []
    assert servers["internal_hits"] == [], "the internal server must never be contacted"
    if case == "redirect to loopback":
        assert "/to-loopback" in servers["public_hits"], "the first hop was fetched, the redirect was not"
