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


def test_looking_near_the_last_face_finds_what_a_full_scan_finds(moving_face: Path) -> None:
    tracked, _, _ = detect_faces(moving_face, 0.0, 6.0, config=ReframeConfig(sample_fps=4))
    scanned, _, _ = detect_faces(moving_face, 0.0, 6.0, config=ReframeConfig(sample_fps=4, full_scan_every=1))
    assert len(tracked) == len(scanned)
    pairs = [(a.box, b.box) for a, b in zip(tracked, scanned, strict=True) if a.box and b.box]
    assert len(pairs) >= 0.9 * len(scanned)
    centre = [abs((a[0] + a[2] / 2) - (b[0] + b[2] / 2)) for a, b in pairs]
    assert max(centre) <= 12  # source pixels


def test_a_face_that_jumps_is_found_again(tmp_path: Path) -> None:
    """A cut moves the face across the frame: the near search misses and a full scan finds it."""
    left = moving_face_video(tmp_path / "left.mp4", seconds=2.0, audio=False, face="left")
    right = moving_face_video(tmp_path / "right.mp4", seconds=2.0, audio=False, face="right")
    cut = tmp_path / "cut.mp4"
    subprocess.run(
        ["ffmpeg", "-v", "error", "-y", "-i", str(left), "-i", str(right), "-filter_complex",
         "[0:v][1:v]concat=n=2:v=1[v]", "-map", "[v]", "-c:v", "libx264", "-preset", "ultrafast", str(cut)],
        check=True,
    )  # fmt: skip
    samples, _, _ = detect_faces(cut, config=ReframeConfig(sample_fps=4, full_scan_every=100))
    before = [s.box for s in samples if s.t < 1.9 and s.box]
    after = [s.box for s in samples if s.t > 2.1 and s.box]
    assert before and after and len(after) >= 0.8 * len([s for s in samples if s.t > 2.1])
    assert min(b[0] for b in after) > max(b[0] for b in before) + 200
