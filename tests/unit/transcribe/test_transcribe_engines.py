"""ASR engines: pocketsphinx word mapping, AssemblyAI over a fake local API, optional faster-whisper."""

from __future__ import annotations

import http.server
import io
import json
import threading
import wave
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any, ClassVar

import numpy as np
import pytest
from clipforge_common.sample_media import SpeechScript
from clipforge_common.transcript import Word
from clipforge_transcribe.domain import (
    AsrEngine,
    AssemblyAiEngine,
    EngineError,
    EngineUnavailable,
    FasterWhisperEngine,
    FileEngine,
    PocketsphinxEngine,
    make_engine,
    transcribe_audio,
)

# --------------------------------------------------------------------------------------------------
# pocketsphinx
# --------------------------------------------------------------------------------------------------


@dataclass
class FakeSeg:
    word: str
    start_frame: int
    end_frame: int
    prob: float


class FakeDecoder:
    def __init__(self, segs: list[FakeSeg]) -> None:
        self.segs = segs
        self.raw = b""
        self.calls: list[int] = []  # bytes per process_raw call

    def start_utt(self) -> None:
        pass

    def process_raw(self, data: bytes, no_search: bool = False, full_utt: bool = False) -> None:
        assert not full_utt  # fed in pieces within one utterance
        self.raw += data
        self.calls.append(len(data))

    def end_utt(self) -> None:
        pass

    def seg(self) -> list[FakeSeg]:
        return self.segs


def test_pocketsphinx_maps_segments_to_words() -> None:
    engine = PocketsphinxEngine()
    fake = FakeDecoder(
        [
            FakeSeg("<s>", 0, 9, 1.0),
            FakeSeg("have", 10, 24, 0.9),
            FakeSeg("<sil>", 25, 30, 1.0),
            FakeSeg("[NOISE]", 31, 35, 1.0),
            FakeSeg("your(2)", 36, 49, 1.0001),
            FakeSeg("+SMACK+", 50, 52, 1.0),
            FakeSeg("</s>", 53, 60, 1.0),
        ]
    )
    engine._decoder = fake
    words = engine.transcribe_chunk(np.zeros(16000, np.int16), offset_s=30.0)
    assert [w.word for w in words] == ["have", "your"]
    assert (words[0].start, words[0].end) == (30.1, 30.25)  # end_frame is inclusive
    assert words[1].confidence == 1.0  # clamped into 0..1
    assert words[0].confidence == pytest.approx(0.9)
    assert len(fake.raw) == 32000


def test_pocketsphinx_is_fed_a_second_at_a_time() -> None:
    # One decoder call holds the GIL throughout: whole 30 s chunks stalled the service's event loop.
    engine = PocketsphinxEngine()
    fake = FakeDecoder([])
    engine._decoder = fake
    audio = (np.arange(16000 * 3 + 500) % 7).astype(np.int16)
    engine.transcribe_chunk(audio, offset_s=0.0)
    assert fake.calls == [32000, 32000, 32000, 1000]  # bytes: 1 s, 1 s, 1 s and the rest
    assert fake.raw == audio.tobytes()  # every sample, in order


def test_pocketsphinx_accepts_bytes_and_float_and_skips_empty() -> None:
    engine = PocketsphinxEngine()
    engine._decoder = FakeDecoder([FakeSeg("hi", 0, 9, 0.5)])
    assert engine.transcribe_chunk(b"", 0.0) == []
    assert engine.transcribe_chunk(np.zeros(160, np.float32), 0.0)[0].word == "hi"
    assert engine.transcribe_chunk(np.zeros(160, np.int16).tobytes(), 0.0)[0].word == "hi"
    with pytest.raises(TypeError):
        engine.transcribe_chunk(np.zeros(10, np.int64), 0.0)


def test_pocketsphinx_real_decoder_on_one_sentence(short_speech: tuple[Path, SpeechScript]) -> None:
    wav, script = short_speech
    engine = PocketsphinxEngine()
    assert isinstance(engine, AsrEngine)
    assert engine.version.startswith("pocketsphinx-5")
    with wave.open(str(wav)) as w:
        pcm = w.readframes(w.getnframes())
    words = engine.transcribe_chunk(pcm, offset_s=0.0)
    text = [w.word for w in words]
    assert {"wondered", "morning", "coffee"} <= set(text)
    assert all(not t.startswith(("<", "[")) and "(" not in t for t in text)
    s = script.sentences[0]
    assert words[0].start == pytest.approx(s.start, abs=0.3)
    assert words[-1].end == pytest.approx(s.end, abs=0.3)
    assert all(0.0 <= w.confidence <= 1.0 for w in words)


# --------------------------------------------------------------------------------------------------
# transcribe_audio with fake engines
# --------------------------------------------------------------------------------------------------


class ChunkRecorder:
    name = "fake"
    version = "fake-1"

    def __init__(self) -> None:
        self.offsets: list[float] = []

    def transcribe_chunk(self, pcm: Any, offset_s: float) -> list[Word]:
        self.offsets.append(offset_s)
        n = len(pcm) / 16000
        return [Word(word=f"w{len(self.offsets)}", start=offset_s + 0.1, end=offset_s + min(n, 0.5))]


def write_noise(path: Path, seconds: float, pauses: tuple[float, ...] = ()) -> Path:
    """Steady noise, with 0.6 s of digital silence centred on each of ``pauses``."""
    rng = np.random.default_rng(1)
    x = (rng.standard_normal(int(seconds * 16000)) * 3000).astype("<i2")
    for p in pauses:
        x[int((p - 0.3) * 16000) : int((p + 0.3) * 16000)] = 0
    with wave.open(str(path), "wb") as w:
        w.setnchannels(1)
        w.setsampwidth(2)
        w.setframerate(16000)
        w.writeframes(x.tobytes())
    return path


def test_transcribe_audio_chunks_offsets_and_progress(tmp_path: Path) -> None:
    wav = write_noise(tmp_path / "n.wav", 25.0, pauses=(8.0, 17.0))
    engine = ChunkRecorder()
    progress: list[float] = []
    transcript = transcribe_audio(wav, engine, on_progress=progress.append, chunk_seconds=10.0, video_id="v1")
    assert engine.offsets == pytest.approx([0.0, 8.0, 17.0], abs=0.1)  # cut in the pauses
    assert [w.word for w in transcript.words] == ["w1", "w2", "w3"]
    assert transcript.words[1].start == pytest.approx(engine.offsets[1] + 0.1)
    assert (transcript.engine, transcript.engine_version, transcript.video_id) == ("fake", "fake-1", "v1")
    assert transcript.duration == pytest.approx(25.0)
    assert progress == sorted(progress) and progress[-1] == 1.0


# --------------------------------------------------------------------------------------------------
# AssemblyAI against a fake v2 API on 127.0.0.1
# --------------------------------------------------------------------------------------------------

API_KEY = "test-key"


class FakeAssemblyAi(http.server.BaseHTTPRequestHandler):
    uploads: ClassVar[list[bytes]] = []
    requests: ClassVar[list[dict[str, Any]]] = []
    polls: ClassVar[int] = 0
    mode: ClassVar[str] = "ok"

    def log_message(self, *args: object) -> None:
        pass

    def _json(self, status: int, body: dict[str, Any]) -> None:
        data = json.dumps(body).encode()
        self.send_response(status)
        self.send_header("Content-Type", "application/json")
        self.send_header("Content-Length", str(len(data)))
        self.end_headers()
        self.wfile.write(data)

    def _body(self) -> bytes:
        if self.headers.get("Transfer-Encoding", "").lower() == "chunked":
            out = b""
            while True:
                size = int(self.rfile.readline().strip(), 16)
                if size == 0:
                    self.rfile.readline()
                    return out
                out += self.rfile.read(size)
                self.rfile.readline()
        return self.rfile.read(int(self.headers.get("Content-Length", 0)))

    def _authorized(self) -> bool:
        if self.headers.get("authorization") != API_KEY:
            self._json(401, {"error": "Authentication error, API token missing/invalid"})
            return False
        return True

    def do_POST(self) -> None:
        if not self._authorized():
            return
        body = self._body()
        if self.path == "/v2/upload":
            type(self).uploads.append(body)
            self._json(200, {"upload_url": "https://cdn.assemblyai.test/upload/abc"})
        elif self.path == "/v2/transcript":
            type(self).requests.append(json.loads(body))
            self._json(200, {"id": "tx1", "status": "queued"})
        else:
            self._json(404, {"error": "not found"})

    def do_GET(self) -> None:
        if not self._authorized():
            return
        if self.path != "/v2/transcript/tx1":
            self._json(404, {"error": "not found"})
            return
        cls = type(self)
        cls.polls += 1
        if cls.mode == "error":
            self._json(200, {"id": "tx1", "status": "error", "error": "Audio file is corrupt"})
        elif cls.polls < 3:
            self._json(200, {"id": "tx1", "status": "processing"})
        else:
            words = [
                {"text": "Hello,", "start": 250, "end": 600, "confidence": 0.98},
                {"text": "world.", "start": 650, "end": 1100, "confidence": 0.91},
                {"text": "Next", "start": 1900, "end": 2200, "confidence": 0.87},
                {"text": "topic.", "start": 2250, "end": 2700, "confidence": 0.95},
            ]
            self._json(200, {"id": "tx1", "status": "completed", "text": "Hello, world. Next topic.", "words": words})


@pytest.fixture
def fake_api() -> Iterator[str]:
    FakeAssemblyAi.uploads = []
    FakeAssemblyAi.requests = []
    FakeAssemblyAi.polls = 0
    FakeAssemblyAi.mode = "ok"
    httpd = http.server.ThreadingHTTPServer(("127.0.0.1", 0), FakeAssemblyAi)
    thread = threading.Thread(target=httpd.serve_forever, kwargs={"poll_interval": 0.05}, daemon=True)
    thread.start()
    yield f"http://127.0.0.1:{httpd.server_address[1]}"
    httpd.shutdown()
    httpd.server_close()


def engine_for(url: str, key: str = API_KEY) -> tuple[AssemblyAiEngine, list[float]]:
    sleeps: list[float] = []
    return AssemblyAiEngine(key, base_url=url, poll_interval=2.0, sleep=sleeps.append), sleeps


def test_assemblyai_chunk_upload_poll_and_word_mapping(fake_api: str) -> None:
    engine, sleeps = engine_for(fake_api)
    pcm = (np.sin(np.arange(16000) / 5) * 1000).astype(np.int16)
    words = engine.transcribe_chunk(pcm, offset_s=10.0)
    assert [w.word for w in words] == ["Hello,", "world.", "Next", "topic."]
    assert (words[0].start, words[0].end, words[0].confidence) == (10.25, 10.6, 0.98)
    assert words[-1].end == pytest.approx(12.7)
    # The upload is a WAV of exactly the samples given.
    with wave.open(io.BytesIO(FakeAssemblyAi.uploads[0])) as w:
        assert (w.getframerate(), w.getnchannels()) == (16000, 1)
        assert np.array_equal(np.frombuffer(w.readframes(w.getnframes()), "<i2"), pcm)
    assert FakeAssemblyAi.requests == [{"audio_url": "https://cdn.assemblyai.test/upload/abc", "language_code": "en"}]
    assert FakeAssemblyAi.polls == 3 and sleeps == [2.0, 2.0, 2.0]
    engine.close()


def test_assemblyai_whole_file_through_transcribe_audio(fake_api: str, tmp_path: Path) -> None:
    wav = write_noise(tmp_path / "n.wav", 3.0)
    engine, _ = engine_for(fake_api)
    assert isinstance(engine, FileEngine)
    progress: list[float] = []
    transcript = transcribe_audio(wav, engine, on_progress=progress.append)
    assert FakeAssemblyAi.uploads[0] == wav.read_bytes()  # streamed as-is, one upload
    assert [s.text for s in transcript.sentences] == ["Hello, world.", "Next topic."]
    assert transcript.engine == "assemblyai"
    assert progress[-1] == 1.0


def test_assemblyai_error_status(fake_api: str) -> None:
    FakeAssemblyAi.mode = "error"
    engine, _ = engine_for(fake_api)
    with pytest.raises(EngineError) as info:
        engine.transcribe_chunk(np.zeros(1600, np.int16), 0.0)
    assert info.value.reason_code == "engine_error"
    assert "corrupt" in info.value.message


def test_assemblyai_bad_key(fake_api: str) -> None:
    engine, _ = engine_for(fake_api, key="wrong")
    with pytest.raises(EngineError) as info:
        engine.transcribe_chunk(np.zeros(1600, np.int16), 0.0)
    assert info.value.reason_code == "engine_auth"
    assert FakeAssemblyAi.uploads == []


def test_assemblyai_unreachable_is_retryable() -> None:
    engine, _ = engine_for("http://127.0.0.1:9")  # discard port: nothing listens
    with pytest.raises(EngineError) as info:
        engine.transcribe_chunk(np.zeros(1600, np.int16), 0.0)
    assert info.value.retryable


def test_assemblyai_needs_a_key() -> None:
    with pytest.raises(EngineUnavailable):
        AssemblyAiEngine("")


# --------------------------------------------------------------------------------------------------
# faster-whisper and the factory
# --------------------------------------------------------------------------------------------------


def test_faster_whisper_unavailable_without_local_model(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delenv("CLIPFORGE_WHISPER_MODEL", raising=False)
    with pytest.raises(EngineUnavailable) as info:
        FasterWhisperEngine()
    assert info.value.reason_code == "engine_unavailable"
    with pytest.raises(EngineUnavailable):
        FasterWhisperEngine(tmp_path / "missing-model")  # never falls back to a download


def test_make_engine() -> None:
    assert isinstance(make_engine("pocketsphinx"), PocketsphinxEngine)
    with pytest.raises(EngineUnavailable):
        make_engine("nonsense")


@pytest.mark.parametrize("factory", [lambda: make_engine("assemblyai", api_key="k", base_url="http://127.0.0.1:9")])
def test_make_engine_passes_options(factory: Callable[[], object]) -> None:
    assert isinstance(factory(), AssemblyAiEngine)
