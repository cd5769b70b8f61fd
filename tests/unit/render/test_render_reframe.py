"""Reframing: crop geometry, smoothing, bounded expressions and following a moving face."""

from __future__ import annotations

import math
from pathlib import Path

import numpy as np
import pytest
from clipforge_render.domain.reframe import (
    CropPath,
    FaceSample,
    ReframeConfig,
    crop_size,
    detect_faces,
    plan_crop_path,
    reframe,
    simplify_path,
)


def _eval_expression(expr: str, t: float) -> float:
    """Evaluate the ffmpeg offset expression (it only uses +, -, * and clip)."""
    return float(eval(expr, {"clip": lambda x, lo, hi: min(max(x, lo), hi), "t": t}))


def test_crop_size_even_and_inside() -> None:
    assert crop_size(640, 360, 9 / 16) == (202, 360, "x")
    assert crop_size(1920, 1080, 1.0) == (1080, 1080, "x")
    assert crop_size(1080, 1920, 16 / 9) == (1080, 606, "y")
    assert crop_size(1280, 720, 16 / 9) == (1280, 720, None)


def test_no_face_means_centre_crop() -> None:
    samples = [FaceSample(t=i / 3, box=None) for i in range(30)]
    path = plan_crop_path(samples, 640, 360, 9 / 16, 10.0)
    assert path == CropPath.centered(640, 360, 9 / 16)
    assert path.window_at(5.0) == (219, 0, 202, 360)


def _noisy_samples(seed: int = 7, seconds: float = 30.0, fps: float = 3.0) -> list[FaceSample]:
    rng = np.random.default_rng(seed)
    samples = []
    for i in range(int(seconds * fps)):
        cx = 960 + rng.normal(0, 12)  # a speaker who sways a little around the centre
        box: tuple[int, int, int, int] | None = (int(cx - 100), 400, 200, 200)
        if i % 17 == 5:
            box = (1700, 100, 120, 120)  # a one-frame false detection far away
        if i % 23 == 11:
            box = None  # a missed frame
        samples.append(FaceSample(t=i / fps, box=box))
    return samples


def test_smoothing_removes_jitter_and_outliers() -> None:
    samples = _noisy_samples()
    path = plan_crop_path(samples, 1920, 1080, 9 / 16, 30.0)
    t = np.linspace(0, 30, 901)
    offsets = np.asarray(path.offset_at(t))
    ideal = 960 - path.crop_width / 2
    # The camera stays put: within a few pixels of the ideal framing, no single-frame spikes.
    assert np.abs(offsets - ideal).max() < 25
    assert np.abs(np.diff(offsets)).max() < 2.0  # per 1/30 s
    # Raw centres would have travelled kilometres; the smoothed camera barely moves.
    assert np.abs(np.diff(offsets)).sum() < 100
    assert len(path.keyframes) <= 26


def test_jump_cut_is_cut_not_panned() -> None:
    samples = [FaceSample(t=i / 3, box=(300 if i < 30 else 1500, 400, 180, 180)) for i in range(60)]
    path = plan_crop_path(samples, 1920, 1080, 9 / 16, 20.0)
    before, after = path.offset_at(9.5), path.offset_at(10.5)
    assert abs(before - (390 - path.crop_width / 2)) < 30
    assert abs(after - (1590 - path.crop_width / 2)) < 30
    assert abs(path.offset_at(10.1) - after) < 60  # switched within a sample interval


def test_expression_matches_the_path_and_stays_bounded() -> None:
    rng = np.random.default_rng(3)
    walk = np.cumsum(rng.normal(0, 30, 600)) + 960  # 200 s of a wandering speaker
    samples = [FaceSample(t=i / 3, box=(int(np.clip(c, 120, 1800)) - 90, 400, 180, 180)) for i, c in enumerate(walk)]
    path = plan_crop_path(samples, 1920, 1080, 9 / 16, 200.0, config=ReframeConfig(max_segments=24))
    expr = path.offset_expression()
    assert len(path.keyframes) <= 24 + 3
    assert len(expr) < 24 * 45 + 100
    for t in np.linspace(0, 200, 57):
        assert _eval_expression(expr, float(t)) == pytest.approx(path.offset_at(float(t)), abs=0.6)
    assert path.crop_filter().startswith("crop=606:1080:'")


def test_simplify_path_respects_max_segments() -> None:
    t = np.linspace(0, 10, 200)
    v = np.sin(t) * 100
    pts = simplify_path(t, v, tolerance=0.1, max_segments=8)
    assert len(pts) - 1 <= 8 and pts[0][0] == 0 and pts[-1][0] == 10


def test_follows_a_face_moving_across_the_canvas(moving_face: Path) -> None:
    path, samples = reframe(moving_face, 0.0, 6.0, 9 / 16)
    assert sum(s.box is not None for s in samples) >= 0.9 * len(samples)
    assert path.axis == "x" and path.crop_width == 202
    # Check independently, on more frames than the planner saw.
    checks, width, height = detect_faces(moving_face, 0.0, 6.0, config=ReframeConfig(sample_fps=10))
    assert (width, height) == (640, 360)
    boxes = [s for s in checks if s.box is not None]
    assert len(boxes) >= 50
    inside = 0
    for s in boxes:
        x, _, w, _ = path.window_at(s.t)
        bx, _, bw, _ = s.box  # type: ignore[misc]
        inside += x <= bx and bx + bw <= x + w
    assert inside / len(boxes) >= 0.95
    # It really pans: the window moves right by most of the face's travel.
    assert path.offset_at(5.5) - path.offset_at(0.5) > 200


def test_subclip_times_are_relative(moving_face: Path) -> None:
    path, samples = reframe(moving_face, 2.0, 5.0, 9 / 16)
    assert samples[0].t == pytest.approx(0.0, abs=0.05)
    assert samples[-1].t <= 3.0 + 1e-6
    full, _ = reframe(moving_face, 0.0, 6.0, 9 / 16)
    assert math.isclose(path.offset_at(1.0), full.offset_at(3.0), abs_tol=25)
