"""Face detection reads its frames from an ffmpeg subprocess: sampled, downscaled and grey."""

from __future__ import annotations

import subprocess
from pathlib import Path

import numpy as np
import pytest
from clipforge_render.domain import ReframeConfig
from clipforge_render.domain.reframe import _sampled_frames, _video_size, detect_faces

from tests.unit.render.render_media import moving_face_video


def test_sampled_frames_are_small_grey_and_evenly_timed(moving_face: Path) -> None:
    frames = list(_sampled_frames(moving_face, 1.0, 4.0, 4.0, 320, 180))
    assert 12 <= len(frames) <= 13  # 3 s at 4 per second
    assert all(f.shape == (180, 320) and f.dtype == np.uint8 for f in frames)
    samples, width, height = detect_faces(moving_face, 1.0, 4.0, config=ReframeConfig(sample_fps=4))
    assert (width, height) == (640, 360)
    assert [s.t for s in samples] == [i / 4 for i in range(len(samples))]
    assert sum(s.box is not None for s in samples) >= 0.9 * len(samples)
    # Boxes are in source pixels and move right as the face does.
    boxes = [s.box for s in samples if s.box is not None]
    assert all(b[0] >= 0 and b[0] + b[2] <= 640 and b[1] + b[3] <= 360 for b in boxes)
    assert boxes[-1][0] > boxes[0][0] + 60


def test_the_whole_rest_of_the_video_when_no_end(moving_face: Path) -> None:
    samples, _, _ = detect_faces(moving_face, 4.0, None, config=ReframeConfig(sample_fps=2))
    assert 4 <= len(samples) <= 5 and samples[-1].t <= 2.0


def test_rotated_phone_video_reports_the_displayed_size(tmp_path: Path) -> None:
    plain = moving_face_video(tmp_path / "plain.mp4", seconds=1.0, audio=False)
    rotated = tmp_path / "rotated.mp4"
    # ffmpeg >= 6 spells it -display_rotation; older versions take the legacy rotate tag.
    new = ["ffmpeg", "-v", "error", "-y", "-display_rotation", "90", "-i", str(plain), "-c", "copy", str(rotated)]
    old = ["ffmpeg", "-v", "error", "-y", "-i", str(plain), "-c", "copy", "-metadata:s:v:0", "rotate=90", str(rotated)]
    if subprocess.run(new, capture_output=True).returncode != 0:
        subprocess.run(old, check=True)
    assert _video_size(plain) == (640, 360)
    assert _video_size(rotated) == (360, 640)
    frames = list(_sampled_frames(rotated, 0.0, 1.0, 2.0, 180, 320))
    assert frames and frames[0].shape == (320, 180)


def test_not_a_video(tmp_path: Path) -> None:
    junk = tmp_path / "junk.mp4"
    junk.write_bytes(b"not a video at all")
    with pytest.raises(ValueError, match="cannot open video"):
        detect_faces(junk)
