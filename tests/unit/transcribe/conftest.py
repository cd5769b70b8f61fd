"""Speech fixtures for transcribe tests: hibari-tts talks as 16 kHz mono WAV, cached under .cache/media."""

from __future__ import annotations

from pathlib import Path

import pytest
from clipforge_common.ffmpeg import run_ffmpeg
from clipforge_common.sample_media import SpeechScript, cached, cached_talk, talk_for_seconds


def _wav16(sentences: tuple[str, ...], breaks: tuple[int, ...] = ()) -> tuple[Path, SpeechScript]:
    # Go through AAC like a real upload does, then down to what the ASR reads.
    m4a, script = cached_talk(sentences, suffix=".m4a", paragraph_breaks=breaks)

    def build(out: Path) -> None:
        run_ffmpeg(["-i", str(m4a), "-ac", "1", "-ar", "16000", "-c:a", "pcm_s16le", str(out)])

    return cached({"wav16": m4a.name}, build, suffix=".wav"), script


@pytest.fixture(scope="session")
def talk_60s() -> tuple[Path, SpeechScript]:
    """About 60 s of talk over the three default topics."""
    plan = talk_for_seconds(60)
    return _wav16(plan.sentences, plan.paragraph_breaks)


@pytest.fixture(scope="session")
def short_speech() -> tuple[Path, SpeechScript]:
    return _wav16(("Have you ever wondered why your morning coffee tastes so bitter?",))
