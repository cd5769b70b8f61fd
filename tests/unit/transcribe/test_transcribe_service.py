"""The transcribe service adapter: settings, engine pool and the job around the domain core, with an
in-memory object store and no database."""

from __future__ import annotations

import threading
import wave
from pathlib import Path
from typing import Any

import numpy as np
import pytest
from clipforge_common.events import VideoIngested
from clipforge_common.jobs import Job, JobFailed, TransientFailure
from clipforge_common.sample_media import SpeechScript
from clipforge_common.storage import transcript_key, video_audio_key
from clipforge_common.transcript import Sentence, Transcript, Word
from clipforge_transcribe import repository
from clipforge_transcribe.config import TranscribeConfig
from clipforge_transcribe.domain import AssemblyAiEngine, EngineError, EngineUnavailable, PocketsphinxEngine
from clipforge_transcribe.main import definition
from clipforge_transcribe.worker import (
    INTERNAL_ERROR_MESSAGE,
    EnginePool,
    TranscribeWorker,
    engine_pool,
    retarget,
    summarize,
)
from pydantic import ValidationError

from tests.unit.ingest.service_fakes import FakeConn, FakeRuntime, make_job

VIDEO = "vid-2"

# ------------------------------------------------------------------------------------------ config


def test_default_engine_is_offline_pocketsphinx() -> None:
    config = TranscribeConfig()
    assert config.engine == "pocketsphinx" and config.engine_options() == {}
    assert isinstance(engine_pool(config)._factory(), PocketsphinxEngine)


def test_engine_settings_from_the_environment(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    monkeypatch.setenv("CLIPFORGE_TRANSCRIBE_ENGINE", "assemblyai")
    monkeypatch.setenv("CLIPFORGE_ASSEMBLYAI_API_KEY", "secret-key")  # the engine's own variable name works too
    monkeypatch.setenv("CLIPFORGE_TRANSCRIBE_ASSEMBLYAI_BASE_URL", "http://127.0.0.1:9/")
    config = TranscribeConfig()
    assert "secret-key" not in repr(config), "the key never shows in logs"
    options = config.engine_options()
    assert options["api_key"] == "secret-key" and options["base_url"] == "http://127.0.0.1:9/"
    engine = engine_pool(config)._factory()
    assert isinstance(engine, AssemblyAiEngine)
    engine.close()

    monkeypatch.setenv("CLIPFORGE_TRANSCRIBE_ENGINE", "faster-whisper")
    monkeypatch.setenv("CLIPFORGE_WHISPER_MODEL", str(tmp_path))
    options = TranscribeConfig().engine_options()
    assert options["model_path"] == tmp_path and options["compute_type"] == "int8"

    monkeypatch.setenv("CLIPFORGE_TRANSCRIBE_ENGINE", "vosk")
    with pytest.raises(ValidationError):
        TranscribeConfig()


def test_a_misconfigured_engine_stops_the_service_at_start_up() -> None:
    with pytest.raises(EngineUnavailable):
        engine_pool(TranscribeConfig(engine="assemblyai")).warm()  # no API key


def test_tenants_and_database(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("CLIPFORGE_TRANSCRIBE_TENANTS", '["t1"]')
    monkeypatch.setenv("CLIPFORGE_TRANSCRIBE_DATABASE", "clipforge_transcribe_blue")
    config = TranscribeConfig()
    assert config.serves("t1") and not config.serves("t2")
    assert definition(config).database == "clipforge_transcribe_blue"


# ------------------------------------------------------------------------------------- engine pool


class FakeEngine:
    """Says one word per second of audio."""

    name = "fake"
    version = "fake-1"

    def __init__(self, fail: EngineError | None = None) -> None:
        self.fail = fail
        self.calls = 0
        self.chunk_seconds: list[float] = []

    def transcribe_chunk(self, pcm: Any, offset_s: float) -> list[Word]:
        self.calls += 1
        self.chunk_seconds.append(len(pcm) / 16000)
        if self.fail is not None:
            raise self.fail
        seconds = int(len(pcm) / 16000)
        return [Word(word=f"w{int(offset_s) + i}", start=offset_s + i, end=offset_s + i + 0.5) for i in range(seconds)]


def test_engine_pool_reuses_engines_and_drops_broken_ones() -> None:
    built: list[FakeEngine] = []

    def factory() -> FakeEngine:
        built.append(FakeEngine())
        return built[-1]

    pool = EnginePool(factory)
    with pool.lease() as a:
        pass
    with pool.lease() as b:
        assert b is a
    with pytest.raises(RuntimeError), pool.lease():
        raise RuntimeError("decoder blew up")
    assert pool.idle == 0 and len(built) == 1
    with pool.lease() as c:
        assert c is not a

    # Concurrent jobs never share an engine.
    barrier = threading.Barrier(2)
    leased: list[Any] = []

    def job() -> None:
        with pool.lease() as engine:
            leased.append(engine)
            barrier.wait(timeout=10)

    threads = [threading.Thread(target=job) for _ in range(2)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert leased[0] is not leased[1] and pool.idle == 2


# ------------------------------------------------------------------------------------------ helpers


def _transcript(video_id: str | None = "vid-0") -> Transcript:
    words = [Word(word="hello", start=0.1, end=0.4), Word(word="world", start=0.5, end=0.9)]
    return Transcript(
        video_id=video_id,
        engine="pocketsphinx",
        engine_version="pocketsphinx-5",
        duration=1.0,
        words=words,
        sentences=[Sentence(text="hello world", start=0.1, end=0.9, first_word=0, last_word=1)],
    )


def test_summarize_and_retarget() -> None:
    transcript = _transcript()
    summary = summarize(transcript, "transcripts/vid-0.json")
    assert (summary.word_count, summary.sentence_count, summary.duration) == (2, 1, 1.0)
    assert (summary.engine, summary.engine_version, summary.language) == ("pocketsphinx", "pocketsphinx-5", "en")
    copy = retarget(transcript.model_dump_json().encode(), VIDEO)
    assert copy.video_id == VIDEO and copy.words == transcript.words and copy.sentences == transcript.sentences


# ------------------------------------------------------------------------------------------- worker


@pytest.fixture
def no_database(monkeypatch: pytest.MonkeyPatch) -> dict[str, Any]:
    state: dict[str, Any] = {"done": {}, "deleted": False}

    async def get_done(_pool: Any, *, video_id: str, tenant_id: str) -> Any:
        return state["done"].get(video_id)

    async def is_deleted(_pool: Any, _video_id: str) -> bool:
        return bool(state["deleted"])

    monkeypatch.setattr(repository, "get_done", get_done)
    monkeypatch.setattr("clipforge_transcribe.worker.is_deleted", is_deleted)
    return state


def _silence_wav(path: Path, seconds: float, rate: int = 16000) -> Path:
    with wave.open(str(path), "wb") as w:
        w.setnchannels(1)
        w.setsampwidth(2)
        w.setframerate(rate)
        w.writeframes(np.zeros(int(seconds * rate), np.int16).tobytes())
    return path


def _job(runtime: FakeRuntime, wav: Path | None, *, reused_from: str | None = None, attempts: int = 1) -> Job:
    if wav is not None:
        runtime.store.objects[video_audio_key(VIDEO)] = wav.read_bytes()
    ingested = VideoIngested(
        duration=1.0,
        size=1,
        sha256="ab",
        source_key=f"videos/{VIDEO}/source.mp4",
        audio_key=video_audio_key(VIDEO),
        reused_from=reused_from,
    )
    return make_job("video.ingested", ingested, video_id=VIDEO, attempts=attempts, max_attempts=2)


def _worker(runtime: FakeRuntime, engine: Any = None, **config: Any) -> TranscribeWorker:
    pool = EnginePool(lambda: engine) if engine is not None else engine_pool(TranscribeConfig(**config))
    return TranscribeWorker(runtime, TranscribeConfig(**config), pool)


async def test_speech_is_transcribed_and_stored(
    no_database: dict[str, Any], short_speech: tuple[Path, SpeechScript]
) -> None:
    wav, script = short_speech
    runtime = FakeRuntime()
    result = await _worker(runtime).run(_job(runtime, wav))
    summary = result["summary"]
    assert summary["transcript_key"] == transcript_key(VIDEO) and summary["engine"] == "pocketsphinx"
    assert result["copied_from"] is None
    stored = Transcript.model_validate_json(runtime.store.objects[transcript_key(VIDEO)])
    assert stored.video_id == VIDEO and len(stored.words) == summary["word_count"] >= 8
    assert stored.duration == pytest.approx(script.duration, abs=0.1)
    fractions = runtime.fractions("transcribe")
    assert fractions[0] == 0.0 and fractions[-1] == 1.0 and fractions == sorted(fractions)


async def test_long_audio_goes_through_in_chunks(no_database: dict[str, Any], tmp_path: Path) -> None:
    runtime = FakeRuntime()
    engine = FakeEngine()
    result = await _worker(runtime, engine, chunk_seconds=10).run(_job(runtime, _silence_wav(tmp_path / "a.wav", 35)))
    # Bounded memory: never more than chunk_seconds of samples handed over at once, all of it covered.
    assert engine.calls >= 4 and max(engine.chunk_seconds) <= 10.0
    assert sum(engine.chunk_seconds) == pytest.approx(35.0)
    assert result["summary"]["engine"] == "fake" and result["summary"]["word_count"] > 0


async def test_missing_and_malformed_audio_fail_permanently(no_database: dict[str, Any], tmp_path: Path) -> None:
    runtime = FakeRuntime()
    with pytest.raises(JobFailed) as info:
        await _worker(runtime, FakeEngine()).run(_job(runtime, None))
    assert info.value.reason_code == "audio_missing"

    with pytest.raises(JobFailed) as info:
        await _worker(runtime, FakeEngine()).run(_job(runtime, _silence_wav(tmp_path / "b.wav", 2, rate=44100)))
    assert info.value.reason_code == "bad_audio"
    assert transcript_key(VIDEO) not in runtime.store.objects


async def test_engine_errors_retry_when_transient(no_database: dict[str, Any], tmp_path: Path) -> None:
    wav = _silence_wav(tmp_path / "c.wav", 2)
    runtime = FakeRuntime()
    flaky = FakeEngine(EngineError("engine_unreachable", "503", retryable=True))
    with pytest.raises(TransientFailure):
        await _worker(runtime, flaky).run(_job(runtime, wav, attempts=1))
    with pytest.raises(JobFailed) as info:
        await _worker(runtime, flaky).run(_job(runtime, wav, attempts=2))
    assert info.value.reason_code == "engine_unreachable"

    broken = FakeEngine(EngineError("engine_auth", "AssemblyAI rejected the API key"))
    with pytest.raises(JobFailed) as info:
        await _worker(runtime, broken).run(_job(runtime, wav, attempts=1))
    assert info.value.reason_code == "engine_auth"


async def test_duplicate_source_copies_the_earlier_transcript(no_database: dict[str, Any], tmp_path: Path) -> None:
    runtime = FakeRuntime()
    earlier = _transcript("vid-0")
    runtime.store.objects[transcript_key("vid-0")] = earlier.model_dump_json().encode()
    no_database["done"]["vid-0"] = {"transcript_key": transcript_key("vid-0")}
    engine = FakeEngine()
    result = await _worker(runtime, engine).run(_job(runtime, _silence_wav(tmp_path / "d.wav", 2), reused_from="vid-0"))
    assert engine.calls == 0, "no second ASR run"
    assert result["copied_from"] == "vid-0"
    assert result["summary"]["engine"] == "pocketsphinx", "the engine that really produced it"
    copy = Transcript.model_validate_json(runtime.store.objects[transcript_key(VIDEO)])
    assert copy.video_id == VIDEO and copy.words == earlier.words


async def test_duplicate_without_an_earlier_transcript_is_transcribed(
    no_database: dict[str, Any], tmp_path: Path
) -> None:
    runtime = FakeRuntime()
    engine = FakeEngine()
    result = await _worker(runtime, engine).run(_job(runtime, _silence_wav(tmp_path / "e.wav", 3), reused_from="vid-0"))
    assert engine.calls == 1 and result["copied_from"] is None and result["summary"]["word_count"] == 3


async def test_video_deleted_meanwhile_takes_back_the_transcript(no_database: dict[str, Any], tmp_path: Path) -> None:
    no_database["deleted"] = True
    runtime = FakeRuntime()
    with pytest.raises(JobFailed) as info:
        await _worker(runtime, FakeEngine()).run(_job(runtime, _silence_wav(tmp_path / "f.wav", 2)))
    assert info.value.reason_code == "video_deleted"
    assert transcript_key(VIDEO) not in runtime.store.objects


async def test_commit_and_fail_write_the_answer_to_the_outbox() -> None:
    runtime = FakeRuntime()
    worker = _worker(runtime, FakeEngine())
    job = _job(runtime, None)
    summary = summarize(_transcript(VIDEO), transcript_key(VIDEO))

    conn = FakeConn()
    await worker.commit(conn, job, {"summary": summary.model_dump(mode="json"), "copied_from": None})  # type: ignore[arg-type]
    [event] = conn.outbox()
    assert (event.event_type, event.causation_id) == ("transcript.completed", job.cause.event_id)
    assert event.data["word_count"] == 2
    assert any(sql.startswith("UPDATE transcripts SET status = 'done'") for sql, _ in conn.executed)

    conn = FakeConn()
    await worker.fail(conn, job, "engine_auth", "AssemblyAI rejected the API key")  # type: ignore[arg-type]
    assert conn.outbox()[0].event_type == "transcript.failed"
    assert conn.outbox()[0].data["reason_code"] == "engine_auth"

    conn = FakeConn()
    await worker.fail(conn, job, "internal_error", "MemoryError")  # type: ignore[arg-type]
    assert conn.outbox()[0].data["message"] == INTERNAL_ERROR_MESSAGE
