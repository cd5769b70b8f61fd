"""Offline synthesis of talk media for tests, demos and benchmarks (``clipforge sample OUT.mp4``).

Speech comes from hibari-tts with its bundled voice (nothing is downloaded); each sentence is
synthesized on its own and joined with silences, so every sentence boundary is known exactly. The
video track is a 16:9 canvas with scikit-image's bundled ``astronaut`` photo placed off-centre, so
face-following reframing has something to follow.
"""

from __future__ import annotations

import functools
import hashlib
import json
import os
import tempfile
import uuid
import wave
from collections.abc import Callable, Collection, Mapping, Sequence
from dataclasses import dataclass
from importlib import metadata
from pathlib import Path
from typing import Any, Literal

import numpy as np
from pydantic import BaseModel, Field

from clipforge_common.ffmpeg import run_ffmpeg

__all__ = [
    "DEFAULT_TALK",
    "EXTRA_TOPICS",
    "SAMPLE_VOICE",
    "FacePlacement",
    "ScriptSentence",
    "SpeechScript",
    "TalkPlan",
    "Topic",
    "cache_dir",
    "cache_path",
    "cached",
    "cached_talk",
    "make_sample",
    "make_talk_video",
    "synthesize_speech",
    "talk_for_seconds",
]

# The only voice that ships inside the hibari wheel; any other name would trigger a download.
SAMPLE_VOICE = "heart"
# Bump when the synthesis changes in a way that should invalidate cached media.
_CACHE_VERSION = 2
# |amplitude| above which a sample counts as speech when trimming hibari's own leading/trailing silence.
_TRIM_THRESHOLD = 0.01
# Keep this much of the quiet edge so word onsets and releases are not clipped.
_TRIM_MARGIN_S = 0.02

FacePlacement = Literal["left", "right", "moving", "none"]


# --------------------------------------------------------------------------------------------------
# Scripts
# --------------------------------------------------------------------------------------------------


@dataclass(frozen=True)
class Topic:
    title: str
    sentences: tuple[str, ...]


# Numbers are written as words so the reference text matches what the TTS says and ASR prints.
DEFAULT_TALK: tuple[Topic, ...] = (
    Topic(
        "coffee brewing",
        (
            "Have you ever wondered why your morning coffee tastes so bitter?",
            "The answer is usually hiding in the water temperature.",
            "Most baristas brew with water just below boiling, around ninety degrees.",
            "Here is the first secret: grind your beans right before you brew.",
            "Ground coffee loses most of its aroma within about fifteen minutes.",
            "Next, weigh your coffee instead of using a scoop.",
            "A good starting ratio is one gram of coffee for every sixteen grams of water.",
            "Try these three changes tomorrow and taste the difference for yourself.",
        ),
    ),
    Topic(
        "space exploration",
        (
            "Why do we keep sending people into space when robots are so much cheaper?",
            "It turns out that humans can fix problems no machine was designed to handle.",
            "In nineteen seventy, the crew of Apollo thirteen survived because engineers on the ground "
            "built a filter out of spare parts.",
            "Today the space station circles the earth about sixteen times every day.",
            "That means the astronauts on board see a sunrise roughly every ninety minutes.",
            "The next big goal is to land a crew on the surface of Mars.",
            "A one way trip would take around seven months with current rockets.",
            "Imagine spending that long inside a room the size of a small apartment.",
        ),
    ),
    Topic(
        "personal finance",
        (
            "What would you do if your income stopped tomorrow?",
            "Most financial planners say you need an emergency fund that covers six months of expenses.",
            "Start small, because even fifty dollars a week adds up to more than two thousand dollars a year.",
            "The biggest mistake people make is waiting for the perfect moment to begin.",
            "Compound interest rewards the people who start early, not the people who start big.",
            "Here is a simple rule that works for almost everyone.",
            "Spend half of your income on needs, thirty percent on wants, and save the rest.",
            "Write down every purchase for one month and the numbers will surprise you.",
        ),
    ),
)

# Extra material so a ~3 minute sample does not repeat itself.
EXTRA_TOPICS: tuple[Topic, ...] = (
    Topic(
        "sleep",
        (
            "How many hours did you sleep last night?",
            "Adults need somewhere between seven and nine hours to feel fully rested.",
            "Your brain uses that time to store memories and clear out waste.",
            "One easy habit is to go to bed at the same time every evening.",
            "Bright screens late at night can delay the feeling of being tired.",
            "So put your phone in another room about an hour before bed.",
            "A cool and dark bedroom also helps you fall asleep faster.",
            "Give it two weeks and notice how much better your mornings feel.",
        ),
    ),
    Topic(
        "learning a language",
        (
            "Can you really learn a new language in just ten minutes a day?",
            "Research suggests that short daily practice beats long weekly sessions.",
            "The trick is to focus on the most common words first.",
            "Around one thousand words cover most of everyday conversation.",
            "Now add a little listening practice while you cook or walk.",
            "Speaking out loud matters more than getting every sentence right.",
            "Many learners quit after the first month because progress feels slow.",
            "Keep going, and by the end of the year you will surprise yourself.",
        ),
    ),
)

# Rough speaking rate of the bundled voice, used only to pick how many sentences make N seconds.
_SECONDS_PER_CHAR = 0.055


@dataclass(frozen=True)
class TalkPlan:
    """Sentences to speak plus the indices that start a new topic (for ``paragraph_breaks``)."""

    sentences: tuple[str, ...]
    paragraph_breaks: tuple[int, ...]
    topics: tuple[str, ...]

    def estimated_seconds(self, pause: float = 0.7, paragraph_pause: float = 1.6) -> float:
        return _estimate(self.sentences, len(self.paragraph_breaks), pause, paragraph_pause)


def _estimate(sentences: Sequence[str], n_breaks: int, pause: float, paragraph_pause: float) -> float:
    speech = sum(len(s) for s in sentences) * _SECONDS_PER_CHAR
    gaps = max(0, len(sentences) - 1 - n_breaks) * pause + n_breaks * paragraph_pause
    return speech + gaps


def talk_for_seconds(
    seconds: float,
    *,
    topics: Sequence[Topic] | None = None,
    pause: float = 0.7,
    paragraph_pause: float = 1.6,
) -> TalkPlan:
    """About ``seconds`` of talk: the first sentences of each topic (questions and hooks come first).

    Uses the three default topics while they suffice, then the extra ones; never repeats a sentence,
    so the result is capped at all the material available (~3 minutes).
    """
    pools: list[Sequence[Topic]] = [topics] if topics is not None else [DEFAULT_TALK, DEFAULT_TALK + EXTRA_TOPICS]
    plan = TalkPlan((), (), ())
    for pool in pools:
        taken = [0] * len(pool)
        while True:
            plan = _plan(pool, taken)
            if plan.estimated_seconds(pause, paragraph_pause) >= seconds:
                return plan
            # Round robin keeps the topics balanced; stop when every topic is exhausted.
            candidates = [i for i, t in enumerate(pool) if taken[i] < len(t.sentences)]
            if not candidates:
                break
            i = min(candidates, key=lambda k: (taken[k], k))
            taken[i] += 1
    return plan


def _plan(pool: Sequence[Topic], taken: Sequence[int]) -> TalkPlan:
    sentences: list[str] = []
    breaks: list[int] = []
    titles: list[str] = []
    for topic, n in zip(pool, taken, strict=True):
        if n == 0:
            continue
        if sentences:
            breaks.append(len(sentences))
        sentences.extend(topic.sentences[:n])
        titles.append(topic.title)
    return TalkPlan(tuple(sentences), tuple(breaks), tuple(titles))


# --------------------------------------------------------------------------------------------------
# Speech
# --------------------------------------------------------------------------------------------------


class ScriptSentence(BaseModel):
    text: str
    start: float = Field(ge=0, description="seconds: first audible sample of the sentence")
    end: float = Field(ge=0, description="seconds: last audible sample of the sentence")
    paragraph: int = Field(default=0, ge=0)


class SpeechScript(BaseModel):
    """What was said and exactly when: the ground truth tests compare ASR and ranking against."""

    sentences: list[ScriptSentence]
    duration: float = Field(ge=0)
    sample_rate: int
    voice: str = SAMPLE_VOICE

    @property
    def text(self) -> str:
        return " ".join(s.text for s in self.sentences)

    def pauses(self) -> list[tuple[float, float]]:
        """The silent gaps (end of one sentence, start of the next)."""
        return [(a.end, b.start) for a, b in zip(self.sentences, self.sentences[1:], strict=False)]


@functools.lru_cache(maxsize=1)
def _tts() -> Any:
    from hibari import Hibari
    from hibari.voices import VOICES

    if not VOICES.get(SAMPLE_VOICE, {}).get("bundled"):
        raise RuntimeError(f"hibari voice {SAMPLE_VOICE!r} is not bundled; refusing to download one")
    return Hibari(voice=SAMPLE_VOICE, threads=1)


def synthesize_speech(
    sentences: Sequence[str],
    out_wav: Path,
    *,
    pause: float = 0.7,
    paragraph_breaks: Collection[int] = (),
    paragraph_pause: float = 1.6,
    lead_in: float = 0.3,
    tail: float = 0.5,
    speed: float = 1.0,
    seed: int = 0,
) -> SpeechScript:
    """Speak ``sentences`` into a mono 16-bit WAV at hibari's native rate (24 kHz).

    Each sentence is synthesized separately, its own leading/trailing silence trimmed, and sentences
    are joined so that ``pause`` seconds separate one sentence's end from the next one's start
    (``paragraph_pause`` before the sentence indices in ``paragraph_breaks``). Output is
    deterministic for a given ``seed``.
    """
    if not sentences:
        raise ValueError("synthesize_speech needs at least one sentence")
    tts = _tts()
    sr = int(tts.sample_rate)
    margin = int(_TRIM_MARGIN_S * sr)
    breaks = set(paragraph_breaks)

    parts: list[np.ndarray] = [np.zeros(round(lead_in * sr), np.float32)]
    cursor = len(parts[0])
    out: list[ScriptSentence] = []
    paragraph = 0
    for i, text in enumerate(sentences):
        if i > 0:
            gap = paragraph_pause if i in breaks else pause
            if i in breaks:
                paragraph += 1
            # The trim margins on both sides are (near) silent too, so the audible gap is exactly ``gap``.
            silence = np.zeros(max(0, round(gap * sr) - 2 * margin), np.float32)
            parts.append(silence)
            cursor += len(silence)
        audio = np.asarray(tts(text, speed=speed, seed=seed), dtype=np.float32)
        loud = np.flatnonzero(np.abs(audio) > _TRIM_THRESHOLD)
        if loud.size == 0:
            raise RuntimeError(f"hibari produced no audible speech for {text!r}")
        first, last = int(loud[0]), int(loud[-1])
        lo, hi = max(0, first - margin), min(len(audio), last + 1 + margin)
        clip = audio[lo:hi]
        out.append(
            ScriptSentence(
                text=text,
                start=(cursor + first - lo) / sr,
                end=(cursor + last + 1 - lo) / sr,
                paragraph=paragraph,
            )
        )
        parts.append(clip)
        cursor += len(clip)
    parts.append(np.zeros(round(tail * sr), np.float32))
    audio = np.concatenate(parts)

    out_wav = Path(out_wav)
    out_wav.parent.mkdir(parents=True, exist_ok=True)
    pcm = (np.clip(audio, -1.0, 1.0) * 32767.0).astype("<i2")
    with wave.open(str(out_wav), "wb") as w:
        w.setnchannels(1)
        w.setsampwidth(2)
        w.setframerate(sr)
        w.writeframes(pcm.tobytes())
    return SpeechScript(sentences=out, duration=len(audio) / sr, sample_rate=sr)


# --------------------------------------------------------------------------------------------------
# Video
# --------------------------------------------------------------------------------------------------

_AUDIO_CODECS: dict[str, list[str]] = {
    ".m4a": ["-c:a", "aac", "-b:a", "96k"],
    ".aac": ["-c:a", "aac", "-b:a", "96k"],
    ".mp3": ["-c:a", "libmp3lame", "-b:a", "96k"],
    ".wav": ["-c:a", "pcm_s16le"],
    ".ogg": ["-c:a", "libopus", "-b:a", "64k"],
    ".opus": ["-c:a", "libopus", "-b:a", "64k"],
}


def _face_png(path: Path, size: int) -> None:
    try:
        from skimage import data as skdata
    except ImportError as exc:  # scikit-image is a dev extra; the message says how to get it.
        raise RuntimeError("sample videos need scikit-image (pip install 'clipforge[dev]')") from exc
    import cv2

    rgb = skdata.astronaut()
    img = cv2.resize(rgb[:, :, ::-1], (size, size), interpolation=cv2.INTER_AREA)
    if not cv2.imwrite(str(path), img):
        raise RuntimeError(f"could not write {path}")


def make_talk_video(
    out: Path,
    sentences: Sequence[str],
    *,
    width: int = 640,
    height: int = 360,
    face: FacePlacement = "left",
    audio_only: bool = False,
    fps: int = 25,
    crf: int = 28,
    background: str = "0x1f2a36",
    pause: float = 0.7,
    paragraph_breaks: Collection[int] = (),
    paragraph_pause: float = 1.6,
    seed: int = 0,
) -> SpeechScript:
    """Write a talking-head sample to ``out`` and return when each sentence is spoken.

    Video: H.264 (libx264 veryfast, yuv420p) + AAC in the container ``out``'s suffix names (.mp4,
    .mov, .mkv). ``audio_only`` writes just the speech; the codec follows the suffix (.m4a, .mp3,
    .wav, .ogg). ``face`` puts the astronaut photo on the left or right third, moves it slowly from
    left to right, or leaves the canvas empty.
    """
    out = Path(out)
    out.parent.mkdir(parents=True, exist_ok=True)
    if width % 2 or height % 2:
        raise ValueError("width and height must be even for yuv420p")
    with tempfile.TemporaryDirectory(prefix="clipforge-sample-") as tmp_s:
        tmp = Path(tmp_s)
        wav = tmp / "speech.wav"
        script = synthesize_speech(
            sentences,
            wav,
            pause=pause,
            paragraph_breaks=paragraph_breaks,
            paragraph_pause=paragraph_pause,
            seed=seed,
        )
        duration = script.duration
        if audio_only:
            codec = _AUDIO_CODECS.get(out.suffix.lower())
            if codec is None:
                raise ValueError(f"unsupported audio-only suffix {out.suffix!r}; use one of {list(_AUDIO_CODECS)}")
            run_ffmpeg(["-i", str(wav), "-ac", "1", *codec, str(out)])
            return script

        canvas = f"color=c={background}:s={width}x{height}:r={fps}:d={duration:.3f}"
        args: list[str] = ["-f", "lavfi", "-i", canvas]
        if face == "none":
            graph = "[0:v]format=yuv420p[v]"
            audio_input = 1
        else:
            side = (int(height * 0.8) // 2) * 2
            png = tmp / "face.png"
            _face_png(png, side)
            y = (height - side) // 2
            margin = width // 12
            x = {
                "left": f"{margin}",
                "right": f"{width - side - margin}",
                # Slow pan across the frame so reframing must follow the face.
                "moving": f"'{margin}+({width - side - 2 * margin})*t/{max(duration, 1e-3):.3f}'",
            }[face]
            args += ["-loop", "1", "-framerate", str(fps), "-i", str(png)]
            graph = f"[0:v][1:v]overlay=x={x}:y={y}:shortest=1:eval=frame,format=yuv420p[v]"
            audio_input = 2
        args += ["-i", str(wav), "-filter_complex", graph, "-map", "[v]", "-map", f"{audio_input}:a"]
        args += ["-c:v", "libx264", "-preset", "veryfast", "-crf", str(crf), "-pix_fmt", "yuv420p"]
        args += ["-c:a", "aac", "-b:a", "96k", "-ac", "1", "-t", f"{duration:.3f}"]
        if out.suffix.lower() in (".mp4", ".mov", ".m4v"):
            args += ["-movflags", "+faststart"]
        run_ffmpeg([*args, str(out)], duration=duration)
    return script


def make_sample(
    out: Path,
    seconds: float = 60.0,
    *,
    face: FacePlacement = "left",
    width: int = 640,
    height: int = 360,
    audio_only: bool | None = None,
) -> SpeechScript:
    """About ``seconds`` of the built-in talk as a video (or audio, by suffix): ``clipforge sample``."""
    out = Path(out)
    plan = talk_for_seconds(seconds)
    if audio_only is None:
        audio_only = out.suffix.lower() in _AUDIO_CODECS
    return make_talk_video(
        out,
        plan.sentences,
        paragraph_breaks=plan.paragraph_breaks,
        face=face,
        width=width,
        height=height,
        audio_only=audio_only,
    )


# --------------------------------------------------------------------------------------------------
# Cache
# --------------------------------------------------------------------------------------------------


def cache_dir() -> Path:
    """``$CLIPFORGE_MEDIA_CACHE``, else ``<repo>/.cache/media`` (git-ignored), else ``~/.cache``."""
    env = os.environ.get("CLIPFORGE_MEDIA_CACHE")
    if env:
        return Path(env)
    for parent in Path(__file__).resolve().parents:
        if (parent / "pyproject.toml").is_file() and (parent / "libs").is_dir():
            return parent / ".cache" / "media"
    return Path.home() / ".cache" / "clipforge" / "media"


def _key_hash(key: object) -> str:
    try:
        hibari_version = metadata.version("hibari-tts")
    except metadata.PackageNotFoundError:
        hibari_version = "?"
    blob = json.dumps({"v": _CACHE_VERSION, "hibari": hibari_version, "key": key}, sort_keys=True, default=str)
    return hashlib.sha256(blob.encode()).hexdigest()[:24]


def cache_path(key: object, *, suffix: str) -> Path:
    """Where :func:`cached` keeps the file for ``key``."""
    return cache_dir() / f"{_key_hash(key)}{suffix}"


def cached(key: object, builder: Callable[[Path], object], *, suffix: str) -> Path:
    """Return a cached file for ``key`` (JSON-able), calling ``builder(tmp_path)`` on a miss.

    The builder writes to a temporary path that is atomically renamed into the cache, so parallel
    test workers never see a half-written file.
    """
    final = cache_path(key, suffix=suffix)
    if final.is_file() and final.stat().st_size > 0:
        return final
    final.parent.mkdir(parents=True, exist_ok=True)
    tmp = final.parent / f".{final.stem}.{uuid.uuid4().hex}{suffix}"
    try:
        builder(tmp)
        os.replace(tmp, final)
    finally:
        tmp.unlink(missing_ok=True)
    return final


def cached_talk(
    sentences: Sequence[str] | None = None, *, suffix: str = ".mp4", **options: Any
) -> tuple[Path, SpeechScript]:
    """``make_talk_video`` through the cache; returns the media path and its script.

    ``sentences`` defaults to about 60 s of ``DEFAULT_TALK`` (with its topic breaks); ``options``
    are passed to :func:`make_talk_video` (an audio suffix implies ``audio_only``).
    """
    if sentences is None:
        plan = talk_for_seconds(60)
        sentences = plan.sentences
        options.setdefault("paragraph_breaks", plan.paragraph_breaks)
    if "paragraph_breaks" in options:
        options["paragraph_breaks"] = tuple(sorted(options["paragraph_breaks"]))
    if suffix.lower() in _AUDIO_CODECS:
        options.setdefault("audio_only", True)
    key: Mapping[str, Any] = {"kind": "talk", "sentences": list(sentences), "suffix": suffix, **options}
    final = cache_path(key, suffix=suffix)
    sidecar = final.with_name(final.name + ".script.json")

    def build(tmp: Path) -> None:
        script = make_talk_video(tmp, sentences, **options)
        # The script lands before the media is renamed into place, so a cache hit always has both.
        tmp_side = sidecar.with_name(f".{sidecar.name}.{uuid.uuid4().hex}")
        tmp_side.write_text(script.model_dump_json())
        os.replace(tmp_side, sidecar)

    if not sidecar.is_file():
        final.unlink(missing_ok=True)
    path = cached(key, build, suffix=suffix)
    return path, SpeechScript.model_validate_json(sidecar.read_text())
