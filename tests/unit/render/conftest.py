"""Shared media for the render unit tests: generated once per session into a temp folder."""

from __future__ import annotations

from pathlib import Path

import pytest

from tests.unit.render.render_media import moving_face_video


@pytest.fixture(scope="session")
def moving_face(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """6 s, 640x360, 30 fps: the astronaut slides from left to right; a 330 Hz tone as audio."""
    return moving_face_video(tmp_path_factory.mktemp("media") / "moving_face.mp4")
