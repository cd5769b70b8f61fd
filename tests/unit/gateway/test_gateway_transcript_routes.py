"""Transcript routes: JSON, SRT and VTT from the stored transcript, tenant-checked."""

from __future__ import annotations

import json

from clipforge_common.captions import parse_srt, parse_vtt
from clipforge_common.transcript import Sentence, Transcript, Word
from clipforge_gateway.cache import View
from fastapi.testclient import TestClient

from tests.unit.gateway.fakes import TENANT, make_app

WORDS = [
    ("Hello", 0.0, 0.4),
    ("and", 0.5, 0.7),
    ("welcome.", 0.8, 1.3),
    ("Today", 2.5, 2.9),
    ("we", 3.0, 3.1),
    ("talk", 3.2, 3.5),
    ("about", 3.6, 3.9),
    ("clips.", 4.0, 4.6),
]


def transcript() -> Transcript:
    return Transcript(
        video_id="v1",
        engine="fake",
        engine_version="1",
        duration=5.0,
        words=[Word(word=w, start=s, end=e, confidence=0.9) for w, s, e in WORDS],
        sentences=[
            Sentence(text="Hello and welcome.", start=0.0, end=1.3, first_word=0, last_word=2),
            Sentence(text="Today we talk about clips.", start=2.5, end=4.6, first_word=3, last_word=7),
        ],
    )


def setup(tenant: str = TENANT, key: str | None = "transcripts/v1.json"):
    app, _ctx, store, views = make_app()
    store.objects["transcripts/v1.json"] = transcript().model_dump_json().encode()
    views.views[("video", "v1")] = View(
        tenant_id=tenant, version=3, deleted=False, body_json='{"video_id": "v1"}', internal={"transcript_key": key}
    )
    return app


def test_json_has_words_and_sentences() -> None:
    with TestClient(setup()) as client:
        response = client.get("/v1/videos/v1/transcript")
        assert response.status_code == 200
        assert response.headers["content-type"].startswith("application/json")
        body = json.loads(response.text)
        assert [w["word"] for w in body["words"]] == [w for w, _, _ in WORDS]
        assert set(body["words"][0]) >= {"word", "start", "end", "confidence"}
        assert [s["text"] for s in body["sentences"]] == ["Hello and welcome.", "Today we talk about clips."]


def test_srt_and_vtt_parse() -> None:
    with TestClient(setup()) as client:
        srt = client.get("/v1/videos/v1/transcript", params={"format": "srt"})
        assert srt.status_code == 200 and srt.headers["content-type"].startswith("application/x-subrip")
        cues = parse_srt(srt.text)
        assert len(cues) == 2 and cues[0].text == "Hello and welcome." and cues[1].start == 2.5
        vtt = client.get("/v1/videos/v1/transcript", params={"format": "vtt"})
        assert vtt.headers["content-type"].startswith("text/vtt")
        assert vtt.text.startswith("WEBVTT")
        assert [c.text for c in parse_vtt(vtt.text)] == [c.text for c in cues]


def test_other_tenant_and_missing_transcript_are_404() -> None:
    with TestClient(setup(tenant="someone-else")) as client:
        response = client.get("/v1/videos/v1/transcript", params={"format": "srt"})
        assert response.status_code == 404 and response.json()["error"]["code"] == "video_not_found"
    with TestClient(setup(key=None)) as client:
        response = client.get("/v1/videos/v1/transcript")
        assert response.status_code == 404 and response.json()["error"]["code"] == "transcript_not_ready"
