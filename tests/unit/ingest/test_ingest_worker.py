"""The ingest job adapter around the domain core, with an in-memory object store and no database."""

from __future__ import annotations

import hashlib
import http.server
import itertools
import threading
from collections.abc import Iterator
from pathlib import Path
from typing import Any, ClassVar

import pytest
from clipforge_common.events import IngestRequested, SourceRef, VideoIngested
from clipforge_common.jobs import Job, JobFailed
from clipforge_common.sample_media import SpeechScript
from clipforge_common.storage import video_audio_key
from clipforge_ingest import repository
from clipforge_ingest.config import IngestConfig
from clipforge_ingest.domain import MediaInfo
from clipforge_ingest.worker import (
    INTERNAL_ERROR_MESSAGE,
    IngestWorker,
    download_fraction,
    ingested_payload,
    is_html,
    scaled,
    source_extension,
    source_problem,
)

from tests.unit.ingest.service_fakes import FakeConn, FakeRuntime, make_job

VIDEO = "vid-1"
SOURCE_KEY = f"videos/{VIDEO}/source.mp4"

# ------------------------------------------------------------------------------------ pure helpers


@pytest.mark.parametrize(
    ("kwargs", "ext"),
    [
        ({"url": "https://cdn.example.com/talks/a.MP4?sig=1"}, "mp4"),
        ({"url": "https://cdn.example.com/watch?v=1", "container": "mov,mp4,m4a,3gp,3g2,mj2"}, "mp4"),
        ({"url": "https://cdn.example.com/download", "container": "matroska,webm"}, "mkv"),
        ({"container": "mp3"}, "mp3"),
        ({"url": "https://x.example/file", "content_type": "audio/mpeg"}, "mp3"),
        ({"url": "https://x.example/file.php", "content_type": "text/html"}, "bin"),
        ({}, "bin"),
    ],
)
def test_source_extension(kwargs: dict[str, str], ext: str) -> None:
    assert source_extension(**kwargs) == ext


def test_download_fraction_is_monotonic_and_below_one_without_length() -> None:
    assert download_fraction(50, 100) == 0.5 and download_fraction(200, 100) == 1.0
    unknown = [download_fraction(n * 10_000_000, None) for n in range(1, 50)]
    assert unknown == sorted(unknown) and unknown[-1] < 1.0


def test_is_html() -> None:
    assert is_html("text/html; charset=utf-8") and is_html("application/xhtml+xml")
    assert not is_html("video/mp4") and not is_html(None)


def test_scaled_maps_and_clamps() -> None:
    seen: list[float] = []
    report = scaled(seen.append, 0.3, 0.9)
    for f in (-1.0, 0.0, 0.5, 1.0, 2.0):
        report(f)
    assert seen == pytest.approx([0.3, 0.3, 0.6, 0.9, 0.9])


def _request(kind: str, **source: Any) -> IngestRequested:
    return IngestRequested(project_id="p1", source=SourceRef(kind=kind, **source))


def test_source_problem() -> None:
    assert source_problem(_request("upload", key=SOURCE_KEY), VIDEO) is None
    assert source_problem(_request("url", url="https://example.com/a.mp4"), VIDEO) is None
    assert source_problem(_request("upload", key="videos/other/source.mp4"), VIDEO)
    assert source_problem(_request("upload", key=f"videos/{VIDEO}/../other/source.mp4"), VIDEO)
    assert source_problem(_request("upload"), VIDEO)
    assert source_problem(_request("url", url="  "), VIDEO)


def test_ingested_payload_for_audio_only() -> None:
    media = MediaInfo(duration=12.3456, size=10, container="mp3", has_video=False, has_audio=True, audio_codec="mp3")
    payload = ingested_payload(media, sha256="ab", source_key="k", audio_key="a")
    assert payload.duration == 12.346 and payload.width is None and payload.audio_codec == "mp3"


# ------------------------------------------------------------------------------------------ worker


@pytest.fixture
def no_database(monkeypatch: pytest.MonkeyPatch) -> dict[str, Any]:
    """Repository reads answered from a dict instead of PostgreSQL."""
    state: dict[str, Any] = {"original": None, "deleted": False}

    async def find_original(_pool: Any, **_kwargs: Any) -> Any:
        return state["original"]

    async def is_deleted(_pool: Any, _video_id: str) -> bool:
        return bool(state["deleted"])

    monkeypatch.setattr(repository, "find_original", find_original)
    monkeypatch.setattr("clipforge_ingest.worker.is_deleted", is_deleted)
    return state


def _upload_job(runtime: FakeRuntime, path: Path, key: str = SOURCE_KEY) -> Job:
    runtime.store.objects[key] = path.read_bytes()
    return make_job("ingest.requested", _request("upload", key=key), video_id=VIDEO)


async def test_upload_is_validated_hashed_and_its_audio_stored(
    no_database: dict[str, Any], talk_mp4: tuple[Path, SpeechScript]
) -> None:
    path, script = talk_mp4
    runtime = FakeRuntime()
    job = _upload_job(runtime, path)
    result = await IngestWorker(runtime, IngestConfig()).run(job)

    payload = VideoIngested.model_validate(result["payload"])
    assert payload.sha256 == hashlib.sha256(path.read_bytes()).hexdigest()
    assert payload.source_key == SOURCE_KEY and payload.audio_key == video_audio_key(VIDEO)
    assert (payload.width, payload.height, payload.audio_codec) == (640, 360, "aac")
    assert payload.duration == pytest.approx(script.duration, abs=0.15)
    assert runtime.store.objects[video_audio_key(VIDEO)][:4] == b"RIFF"
    fractions = runtime.fractions("ingest")
    assert fractions[0] == 0.0 and fractions[-1] == 1.0
    assert all(b >= a - 1e-9 for a, b in itertools.pairwise(fractions)), fractions


async def test_rejected_upload_leaves_only_the_source(no_database: dict[str, Any], tmp_path: Path) -> None:
    empty = tmp_path / "empty.mp4"
    empty.write_bytes(b"")
    runtime = FakeRuntime()
    job = _upload_job(runtime, empty)
    runtime.store.objects[video_audio_key(VIDEO)] = b"from an earlier attempt"
    with pytest.raises(JobFailed) as info:
        await IngestWorker(runtime, IngestConfig()).run(job)
    assert info.value.reason_code == "empty_file"
    assert list(runtime.store.objects) == [SOURCE_KEY]


async def test_missing_and_oversized_uploads(no_database: dict[str, Any], talk_mp4: tuple[Path, SpeechScript]) -> None:
    runtime = FakeRuntime()
    job = make_job("ingest.requested", _request("upload", key=SOURCE_KEY), video_id=VIDEO)
    with pytest.raises(JobFailed) as info:
        await IngestWorker(runtime, IngestConfig()).run(job)
    assert info.value.reason_code == "missing_file"

    job = _upload_job(runtime, talk_mp4[0])
    with pytest.raises(JobFailed) as info:
        await IngestWorker(runtime, IngestConfig(max_size_bytes=1000)).run(job)
    assert info.value.reason_code == "too_large"
    assert list(runtime.store.objects) == [SOURCE_KEY]


async def test_duplicate_source_reuses_the_earlier_results(
    no_database: dict[str, Any], talk_mp4: tuple[Path, SpeechScript], monkeypatch: pytest.MonkeyPatch
) -> None:
    path, _ = talk_mp4
    earlier = VideoIngested(
        duration=7.0,
        width=640,
        height=360,
        fps=25.0,
        video_codec="h264",
        audio_codec="aac",
        container="mov,mp4,m4a,3gp,3g2,mj2",
        size=path.stat().st_size,
        sha256=hashlib.sha256(path.read_bytes()).hexdigest(),
        source_key="videos/vid-0/source.mp4",
        audio_key=video_audio_key("vid-0"),
    )
    no_database["original"] = {"video_id": "vid-0", "audio_key": earlier.audio_key, "info": earlier.model_dump()}
    runtime = FakeRuntime()
    runtime.store.objects[earlier.audio_key] = b"RIFF earlier audio"
    worker = IngestWorker(runtime, IngestConfig())

    async def copy(src: str, dest: str) -> bool:  # S3 CopyObject, server-side
        runtime.store.objects[dest] = runtime.store.objects[src]
        return True

    monkeypatch.setattr(worker, "_copy_object", copy)
    payload = VideoIngested.model_validate((await worker.run(_upload_job(runtime, path)))["payload"])
    assert payload.reused_from == "vid-0"
    assert payload.source_key == SOURCE_KEY and payload.audio_key == video_audio_key(VIDEO)
    assert runtime.store.objects[video_audio_key(VIDEO)] == b"RIFF earlier audio", "copied, not extracted again"
    assert (payload.duration, payload.width) == (7.0, 640)


async def test_video_deleted_meanwhile_takes_back_its_objects(
    no_database: dict[str, Any], talk_mp4: tuple[Path, SpeechScript]
) -> None:
    no_database["deleted"] = True
    runtime = FakeRuntime()
    with pytest.raises(JobFailed) as info:
        await IngestWorker(runtime, IngestConfig()).run(_upload_job(runtime, talk_mp4[0]))
    assert info.value.reason_code == "video_deleted"
    assert runtime.store.objects == {}


class _Media(http.server.BaseHTTPRequestHandler):
    body: ClassVar[bytes] = b""

    def do_GET(self) -> None:
        page = self.path.startswith("/page")
        body = b"<html><body><p>My talk, embedded somewhere</p></body></html>" if page else self.body
        self.send_response(200)
        self.send_header("Content-Type", "text/html; charset=utf-8" if page else "video/mp4")
        self.send_header("Content-Length", str(len(body)))
        self.end_headers()
        self.wfile.write(body)

    def log_message(self, *_args: object) -> None:
        pass


@pytest.fixture
def media_url(talk_mp4: tuple[Path, SpeechScript]) -> Iterator[str]:
    handler = type("Handler", (_Media,), {"body": talk_mp4[0].read_bytes()})
    server = http.server.ThreadingHTTPServer(("127.0.0.1", 0), handler)
    threading.Thread(target=server.serve_forever, daemon=True).start()
    try:
        yield f"http://127.0.0.1:{server.server_address[1]}/talk/coffee"
    finally:
        server.shutdown()
        server.server_close()


async def test_url_import_is_stored_under_the_video(
    no_database: dict[str, Any], media_url: str, talk_mp4: tuple[Path, SpeechScript]
) -> None:
    runtime = FakeRuntime()
    job = make_job("ingest.requested", _request("url", url=media_url), video_id=VIDEO)
    result = await IngestWorker(runtime, IngestConfig(allow_private_urls=True)).run(job)
    payload = VideoIngested.model_validate(result["payload"])
    assert payload.source_key == SOURCE_KEY  # extension from the probed container
    assert runtime.store.objects[SOURCE_KEY] == talk_mp4[0].read_bytes()
    assert video_audio_key(VIDEO) in runtime.store.objects


@pytest.mark.parametrize(("use_ytdlp", "reason"), [(True, "unsupported_url"), (False, "not_media")])
async def test_a_web_page_goes_to_ytdlp(
    no_database: dict[str, Any], media_url: str, use_ytdlp: bool, reason: str
) -> None:
    # yt-dlp (its generic page crawler disabled) finds no video on an arbitrary page.
    runtime = FakeRuntime()
    page = media_url.replace("/talk/coffee", "/page/talk.html")
    job = make_job("ingest.requested", _request("url", url=page), video_id=VIDEO)
    with pytest.raises(JobFailed) as info:
        await IngestWorker(runtime, IngestConfig(allow_private_urls=True, use_ytdlp=use_ytdlp)).run(job)
    assert info.value.reason_code == reason
    assert runtime.store.objects == {}


async def test_url_import_into_the_private_network_is_refused(no_database: dict[str, Any], media_url: str) -> None:
    runtime = FakeRuntime()
    job = make_job("ingest.requested", _request("url", url=media_url), video_id=VIDEO)
    with pytest.raises(JobFailed) as info:
        await IngestWorker(runtime, IngestConfig()).run(job)
    assert info.value.reason_code == "forbidden_address"
    assert runtime.store.objects == {}


async def test_commit_and_fail_write_the_answer_to_the_outbox() -> None:
    runtime = FakeRuntime()
    worker = IngestWorker(runtime, IngestConfig())
    job = make_job("ingest.requested", _request("upload", key=SOURCE_KEY), video_id=VIDEO)
    payload = ingested_payload(
        MediaInfo(duration=3, size=5, container="mp3", has_video=False, has_audio=True, audio_codec="mp3"),
        sha256="ab",
        source_key=SOURCE_KEY,
        audio_key=video_audio_key(VIDEO),
    )
    conn = FakeConn()
    await worker.commit(conn, job, {"payload": payload.model_dump(mode="json")})  # type: ignore[arg-type]
    [event] = conn.outbox()
    assert (event.event_type, event.video_id, event.causation_id) == ("video.ingested", VIDEO, job.cause.event_id)
    assert event.correlation_id == job.cause.correlation_id
    assert any(sql.startswith("UPDATE media SET status = 'ingested'") for sql, _ in conn.executed)

    conn = FakeConn()
    await worker.fail(conn, job, "no_audio_track", "The video has no audio track.")  # type: ignore[arg-type]
    [event] = conn.outbox()
    assert event.event_type == "video.ingest_failed"
    assert event.data == {"reason_code": "no_audio_track", "message": "The video has no audio track."}

    # An exhausted retry hides the exception text from the user.
    conn = FakeConn()
    await worker.fail(conn, job, "internal_error", "OSError: disk full at /tmp/x")  # type: ignore[arg-type]
    assert conn.outbox()[0].data["message"] == INTERNAL_ERROR_MESSAGE
