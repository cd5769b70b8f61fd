"""Media fixtures for ingest tests, generated offline with ffmpeg (and hibari for speech)."""

from __future__ import annotations

from pathlib import Path

import pytest
from clipforge_common.ffmpeg import run_ffmpeg
from clipforge_common.sample_media import SpeechScript, cached_talk

TALK_SENTENCES = (
    "Have you ever wondered why your coffee tastes bitter?",
    "The answer is usually the water temperature.",
)


@pytest.fixture(scope="session")
def talk_mp4() -> tuple[Path, SpeechScript]:
    """A short 640x360 H.264/AAC talk with a face (cached under .cache/media)."""
    return cached_talk(TALK_SENTENCES, suffix=".mp4")


@pytest.fixture
def make_media(tmp_path: Path):
    """Generate a synthetic file with ffmpeg lavfi sources: make_media(name, *ffmpeg_args)."""

    def make(name: str, *args: str) -> Path:
        out = tmp_path / name
        run_ffmpeg([*args, str(out)])
        return out

    return make
