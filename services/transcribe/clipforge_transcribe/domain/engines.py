"""ASR engines behind one small interface.

``PocketsphinxEngine`` (default) runs offline with the English model inside the pocketsphinx wheel.
``FasterWhisperEngine`` needs the optional faster-whisper package and a local model directory (it never
downloads). ``AssemblyAiEngine`` calls AssemblyAI's v2 HTTP API.

Engines are not thread-safe: use one instance per worker thread.
"""

from __future__ import annotations

import io
import os
import re
import time
import wave
from collections.abc import Callable, Iterator
from importlib import metadata
from pathlib import Path
from typing import Any, Protocol, runtime_checkable

import httpx
import numpy as np
from clipforge_common.transcript import Word

__all__ = [
    "AsrEngine",
    "AssemblyAiEngine",
    "EngineError",
    "EngineUnavailable",
    "FasterWhisperEngine",
    "FileEngine",
    "PocketsphinxEngine",
    "make_engine",
]

SAMPLE_RATE = 16_000
Pcm = bytes | np.ndarray


class EngineError(Exception):
    """Transcription failed; ``reason_code`` is stable for ``transcript.failed`` events."""

    def __init__(self, reason_code: str, message: str, *, retryable: bool = False) -> None:
        super().__init__(f"{reason_code}: {message}")
        self.reason_code = reason_code
        self.message = message
        self.retryable = retryable


class EngineUnavailable(EngineError):
    """The engine cannot run here (package or model missing, not configured)."""

    def __init__(self, message: str) -> None:
        super().__init__("engine_unavailable", message)


@runtime_checkable
class AsrEngine(Protocol):
    """Turns 16 kHz mono 16-bit PCM into timed words (seconds from the start of the media)."""

    name: str
    version: str

    def transcribe_chunk(self, pcm: Pcm, offset_s: float) -> list[Word]:
        """Words of one chunk, with ``offset_s`` added to their times."""
        ...


@runtime_checkable
class FileEngine(Protocol):
    """An engine that prefers the whole file at once (remote services)."""

    name: str
    version: str

    def transcribe_file(self, wav_path: Path, on_progress: Callable[[float], None] | None = None) -> list[Word]: ...


def _as_int16(pcm: Pcm) -> np.ndarray:
    if isinstance(pcm, bytes | bytearray | memoryview):
        return np.frombuffer(pcm, dtype="<i2")
    arr = np.asarray(pcm)
    if arr.dtype == np.int16:
        return arr
    if np.issubdtype(arr.dtype, np.floating):
        return (np.clip(arr, -1.0, 1.0) * 32767.0).astype(np.int16)
    raise TypeError(f"PCM must be int16 or float samples, not {arr.dtype}")


def _version(dist: str) -> str:
    try:
        return metadata.version(dist)
    except metadata.PackageNotFoundError:
        return "unknown"


# --------------------------------------------------------------------------------------------------
# pocketsphinx
# --------------------------------------------------------------------------------------------------

_ALT_PRON = re.compile(r"\(\d+\)$")


class PocketsphinxEngine:
    """CMU PocketSphinx 5 with its bundled US English acoustic model, LM and dictionary.

    ``config`` overrides decoder parameters (for example ``{"beam": 1e-60}``); the bundled defaults
    already give < 10 % WER on clear speech.
    """

    name = "pocketsphinx"
    FRAME_RATE = 100  # frames per second (10 ms hop)
    FEED_SAMPLES = 16_000  # one second of 16 kHz audio per decoder call

    def __init__(self, config: dict[str, Any] | None = None) -> None:
        try:
            import pocketsphinx
        except ImportError as exc:  # pragma: no cover - a hard dependency
            raise EngineUnavailable("pocketsphinx is not installed") from exc
        self._pocketsphinx = pocketsphinx
        self._config = dict(config or {})
        self._decoder: Any = None
        self.version = f"pocketsphinx-{_version('pocketsphinx')}"

    def _get_decoder(self) -> Any:
        if self._decoder is None:
            # Default config: bundled en-us model; quiet logging keeps worker logs readable.
            cfg = self._pocketsphinx.Config(**{"loglevel": "FATAL", **self._config})
            self._decoder = self._pocketsphinx.Decoder(cfg)
        return self._decoder

    def transcribe_chunk(self, pcm: Pcm, offset_s: float) -> list[Word]:
        samples = _as_int16(pcm)
        if samples.size == 0:
            return []
        decoder = self._get_decoder()
        decoder.start_utt()
        # Fed a second at a time: pocketsphinx holds the GIL for a whole call, and one call over a
        # 30 s chunk stalled the service's event loop (health checks, Kafka heartbeats, lease
        # renewals) for seconds. The default live CMN gives the same words either way (measured).
        for start in range(0, samples.size, self.FEED_SAMPLES):
            decoder.process_raw(samples[start : start + self.FEED_SAMPLES].tobytes(), no_search=False, full_utt=False)
        decoder.end_utt()
        words: list[Word] = []
        for seg in decoder.seg():
            token = seg.word
            if token.startswith(("<", "[", "+")):  # <s>, </s>, <sil>, [NOISE], +SMACK+ fillers
                continue
            token = _ALT_PRON.sub("", token)
            start = offset_s + seg.start_frame / self.FRAME_RATE
            end = offset_s + (seg.end_frame + 1) / self.FRAME_RATE  # end_frame is inclusive
            # Segment.prob is the word posterior already converted to linear scale (can be 1.0001).
            confidence = float(min(1.0, max(0.0, seg.prob)))
            words.append(Word(word=token, start=round(start, 3), end=round(end, 3), confidence=confidence))
        return words


# --------------------------------------------------------------------------------------------------
# faster-whisper (optional)
# --------------------------------------------------------------------------------------------------


class FasterWhisperEngine:
    """faster-whisper with a model directory that is already on disk (``CLIPFORGE_WHISPER_MODEL``)."""

    name = "faster-whisper"

    def __init__(
        self,
        model_path: str | os.PathLike[str] | None = None,
        *,
        device: str = "cpu",
        compute_type: str = "int8",
        language: str = "en",
        beam_size: int = 5,
    ) -> None:
        try:
            from faster_whisper import WhisperModel
        except ImportError as exc:
            raise EngineUnavailable("faster-whisper is not installed (pip install 'clipforge[whisper]')") from exc
        configured = model_path or os.environ.get("CLIPFORGE_WHISPER_MODEL")
        if not configured:
            raise EngineUnavailable("no faster-whisper model configured (set CLIPFORGE_WHISPER_MODEL to a directory)")
        path = Path(configured)
        if not (path / "model.bin").is_file():
            raise EngineUnavailable(f"faster-whisper model not found at {path} (expected {path / 'model.bin'})")
        # local_files_only: a model path must never turn into a download.
        self._model = WhisperModel(str(path), device=device, compute_type=compute_type, local_files_only=True)
        self._language = language
        self._beam_size = beam_size
        self.version = f"faster-whisper-{_version('faster-whisper')}:{path.name}"

    def transcribe_chunk(self, pcm: Pcm, offset_s: float) -> list[Word]:
        audio = _as_int16(pcm).astype(np.float32) / 32768.0
        segments, _info = self._model.transcribe(
            audio, language=self._language, beam_size=self._beam_size, word_timestamps=True, vad_filter=False
        )
        words: list[Word] = []
        for segment in segments:
            for w in segment.words or []:
                text = w.word.strip()
                if not text:
                    continue
                start = max(0.0, offset_s + float(w.start))
                end = max(start, offset_s + float(w.end))
                conf = float(min(1.0, max(0.0, w.probability)))
                words.append(Word(word=text, start=round(start, 3), end=round(end, 3), confidence=conf))
        return words


# --------------------------------------------------------------------------------------------------
# AssemblyAI (HTTP)
# --------------------------------------------------------------------------------------------------


class AssemblyAiEngine:
    """AssemblyAI v2: upload the audio, create a transcript, poll until it completes.

    Works per chunk (``transcribe_chunk``) or, cheaper, on the whole file (``transcribe_file``, which
    streams the upload from disk). ``sleep`` is injectable so tests do not wait.
    """

    name = "assemblyai"

    def __init__(
        self,
        api_key: str,
        *,
        base_url: str = "https://api.assemblyai.com",
        language: str = "en",
        poll_interval: float = 3.0,
        max_wait: float = 3 * 3600,
        timeout: float = 60.0,
        transport: httpx.BaseTransport | None = None,
        sleep: Callable[[float], None] = time.sleep,
    ) -> None:
        if not api_key:
            raise EngineUnavailable("AssemblyAI needs an API key (CLIPFORGE_ASSEMBLYAI_API_KEY)")
        self.version = "assemblyai-v2"
        self._language = language
        self._poll_interval = poll_interval
        self._max_wait = max_wait
        self._sleep = sleep
        self._client = httpx.Client(
            base_url=base_url.rstrip("/"),
            headers={"authorization": api_key},
            timeout=timeout,
            transport=transport,
        )

    def close(self) -> None:
        self._client.close()

    def transcribe_chunk(self, pcm: Pcm, offset_s: float) -> list[Word]:
        buf = io.BytesIO()
        with wave.open(buf, "wb") as w:
            w.setnchannels(1)
            w.setsampwidth(2)
            w.setframerate(SAMPLE_RATE)
            w.writeframes(_as_int16(pcm).tobytes())
        return self._run(buf.getvalue(), offset_s, None)

    def transcribe_file(self, wav_path: Path, on_progress: Callable[[float], None] | None = None) -> list[Word]:
        def chunks() -> Iterator[bytes]:
            with open(wav_path, "rb") as f:
                while block := f.read(1 << 20):
                    yield block

        return self._run(chunks(), 0.0, on_progress)

    def _run(
        self, body: bytes | Iterator[bytes], offset_s: float, on_progress: Callable[[float], None] | None
    ) -> list[Word]:
        upload = self._call("POST", "/v2/upload", content=body, headers={"content-type": "application/octet-stream"})
        upload_url = upload.get("upload_url")
        if not upload_url:
            raise EngineError("engine_error", "AssemblyAI upload returned no upload_url")
        job = self._call("POST", "/v2/transcript", json={"audio_url": upload_url, "language_code": self._language})
        transcript_id = job.get("id")
        if not transcript_id:
            raise EngineError("engine_error", "AssemblyAI did not return a transcript id")
        if on_progress is not None:
            on_progress(0.1)
        waited = 0.0
        while True:
            status = job.get("status")
            if status == "completed":
                break
            if status == "error":
                raise EngineError("engine_error", f"AssemblyAI failed: {job.get('error') or 'unknown error'}")
            if waited >= self._max_wait:
                raise EngineError(
                    "engine_timeout", f"AssemblyAI did not finish within {self._max_wait:.0f} s", retryable=True
                )
            self._sleep(self._poll_interval)
            waited += self._poll_interval
            job = self._call("GET", f"/v2/transcript/{transcript_id}")
        if on_progress is not None:
            on_progress(1.0)
        words: list[Word] = []
        for w in job.get("words") or []:
            text = str(w.get("text", "")).strip()
            if not text:
                continue
            start = offset_s + float(w["start"]) / 1000.0
            end = max(start, offset_s + float(w["end"]) / 1000.0)
            conf = float(min(1.0, max(0.0, w.get("confidence", 1.0))))
            words.append(Word(word=text, start=round(start, 3), end=round(end, 3), confidence=conf))
        return words

    def _call(self, method: str, url: str, **kwargs: Any) -> dict[str, Any]:
        try:
            response = self._client.request(method, url, **kwargs)
        except httpx.HTTPError as exc:
            raise EngineError("engine_unreachable", f"AssemblyAI request failed: {exc}", retryable=True) from exc
        if response.status_code in (401, 403):
            raise EngineError("engine_auth", "AssemblyAI rejected the API key")
        if response.status_code == 429 or response.status_code >= 500:
            raise EngineError("engine_unreachable", f"AssemblyAI answered {response.status_code}", retryable=True)
        if response.status_code >= 400:
            raise EngineError("engine_error", f"AssemblyAI answered {response.status_code}: {response.text[:200]}")
        try:
            data = response.json()
        except ValueError as exc:
            raise EngineError("engine_error", "AssemblyAI returned invalid JSON") from exc
        if not isinstance(data, dict):
            raise EngineError("engine_error", "AssemblyAI returned unexpected JSON")
        return data


def make_engine(name: str = "pocketsphinx", **options: Any) -> AsrEngine | FileEngine:
    """Build an engine by name: ``pocketsphinx``, ``faster-whisper`` or ``assemblyai``."""
    key = name.strip().lower().replace("_", "-")
    if key == "pocketsphinx":
        return PocketsphinxEngine(**options)
    if key in ("faster-whisper", "whisper"):
        return FasterWhisperEngine(**options)
    if key == "assemblyai":
        return AssemblyAiEngine(**options)
    raise EngineUnavailable(f"unknown ASR engine {name!r} (pocketsphinx, faster-whisper, assemblyai)")
