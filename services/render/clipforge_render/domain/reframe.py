"""Face-following reframing: where to crop a wide source so a vertical (or square) clip keeps the
speaker in frame.

1. :func:`detect_faces` samples a few frames per second (downscaled by an ffmpeg subprocess) and
   runs OpenCV's frontal-face Haar cascade (bundled with opencv-python-headless 4.x): over the whole
   frame every few samples, otherwise near the face found last (a fraction of the cost).
2. :func:`plan_crop_path` turns the detections into a smooth crop-offset path: gaps are held,
   single-frame outliers removed by a median, then a dead zone, exponential smoothing (run forwards
   and backwards, so it does not lag) and a speed limit keep the virtual camera calm; each offset is
   finally nudged so a detected face stays wholly inside the window. Hard jumps (camera cuts) are
   cut, not panned.
3. The path is simplified to a few linear segments and rendered as one ffmpeg ``crop`` expression
   of ``t`` whose length is bounded however long the clip is.
"""

from __future__ import annotations

import collections
import contextlib
import itertools
import math
import os
import subprocess
import threading
from collections.abc import Iterator, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Literal

import numpy as np
from pydantic import BaseModel, ConfigDict, Field

__all__ = [
    "CropPath",
    "FaceSample",
    "ReframeConfig",
    "crop_size",
    "detect_faces",
    "plan_crop_path",
    "reframe",
    "simplify_path",
    "smooth_offsets",
]

Box = tuple[int, int, int, int]  # x, y, w, h in source pixels


class ReframeConfig(BaseModel):
    """Knobs for detection and the virtual camera."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    sample_fps: float = Field(default=3.0, gt=0, le=30)
    analysis_width: int = Field(default=640, ge=64, description="frames are downscaled to this width")
    min_neighbors: int = Field(default=5, ge=1)
    full_scan_every: int = Field(
        default=4, ge=1, description="scan the whole frame every n-th sample; in between look near the last face"
    )
    min_face_fraction: float = Field(default=0.1, gt=0, lt=1, description="of the analysed frame height")
    time_constant: float = Field(default=0.5, gt=0, description="seconds; exponential smoothing")
    dead_zone: float = Field(default=0.04, ge=0, lt=0.5, description="fraction of the crop length")
    max_speed: float = Field(default=0.5, gt=0, description="fraction of the source length per second")
    face_margin: float = Field(default=0.15, ge=0, description="space kept around a face, x face size")
    cut_threshold: float = Field(default=0.3, gt=0, description="a jump this large (of the axis) is a cut")
    tolerance: float = Field(default=0.006, gt=0, description="path simplification error, of the axis")
    max_segments: int = Field(default=24, ge=1, description="bounds the ffmpeg expression length")


@dataclass(frozen=True)
class FaceSample:
    """One analysed frame: ``t`` seconds from the clip start, the chosen face (or None)."""

    t: float
    box: Box | None


def _even(value: float) -> int:
    return max(2, int(value) // 2 * 2)


def crop_size(source_width: int, source_height: int, aspect: float) -> tuple[int, int, Literal["x", "y"] | None]:
    """Largest window of ``aspect`` (w/h) inside the source, with even sides, and the axis it pans on."""
    if source_width / source_height > aspect * 1.001:
        return min(source_width, _even(source_height * aspect)), source_height, "x"
    if source_width / source_height < aspect / 1.001:
        return source_width, min(source_height, _even(source_width / aspect)), "y"
    return source_width, source_height, None


@dataclass(frozen=True)
class CropPath:
    """A crop window of fixed size whose offset along ``axis`` is piecewise linear in time.

    ``keyframes`` are ``(t, offset)`` pairs, ``t`` in seconds from the clip start, ``offset`` the
    window's left (axis x) or top (axis y) edge in source pixels; the offset is held before the first
    and after the last keyframe.
    """

    source_width: int
    source_height: int
    crop_width: int
    crop_height: int
    axis: Literal["x", "y"] | None
    keyframes: tuple[tuple[float, float], ...]

    @classmethod
    def centered(cls, source_width: int, source_height: int, aspect: float) -> CropPath:
        """A static centre crop (what is used when no face is found)."""
        cw, ch, axis = crop_size(source_width, source_height, aspect)
        span = (source_width - cw) if axis == "x" else (source_height - ch)
        return cls(source_width, source_height, cw, ch, axis, ((0.0, span / 2 if axis else 0.0),))

    @property
    def span(self) -> int:
        """How far the window can move along its axis."""
        if self.axis == "x":
            return self.source_width - self.crop_width
        if self.axis == "y":
            return self.source_height - self.crop_height
        return 0

    def offset_at(self, t: float | np.ndarray) -> float | np.ndarray:
        ts = np.array([k[0] for k in self.keyframes])
        vs = np.array([k[1] for k in self.keyframes])
        out = np.clip(np.interp(t, ts, vs), 0, self.span)
        return float(out) if np.ndim(out) == 0 else out

    def window_at(self, t: float) -> Box:
        """(x, y, w, h) of the crop window at time ``t``."""
        off = round(float(self.offset_at(t)))
        if self.axis == "x":
            return off, 0, self.crop_width, self.crop_height
        if self.axis == "y":
            return 0, off, self.crop_width, self.crop_height
        return 0, 0, self.crop_width, self.crop_height

    def offset_expression(self) -> str:
        """ffmpeg expression of ``t`` for the offset: a start value plus one clipped ramp per segment.

        Flat (no nesting), so its length grows linearly with the (bounded) number of segments.
        """
        (t0, v0), *rest = self.keyframes
        parts = [f"{v0:.1f}"]
        prev_t, prev_v = t0, v0
        for t, v in rest:
            dt = t - prev_t
            if dt > 0 and abs(v - prev_v) >= 0.05:
                parts.append(f"{(v - prev_v) / dt:+.4f}*clip(t-{prev_t:.3f},0,{dt:.3f})")
            prev_t, prev_v = t, v
        return "".join(parts)

    def crop_filter(self) -> str:
        """``crop=w:h:x:y`` for ffmpeg (the offset expression is single-quoted: it has commas)."""
        if self.axis is None or len(self.keyframes) == 1:
            x, y, w, h = self.window_at(self.keyframes[0][0])
            return f"crop={w}:{h}:{x}:{y}"
        expr = f"'{self.offset_expression()}'"
        x, y = (expr, "0") if self.axis == "x" else ("0", expr)
        return f"crop={self.crop_width}:{self.crop_height}:{x}:{y}"


# --------------------------------------------------------------------------- detection


def _cascade() -> object:
    import cv2

    path = Path(cv2.data.haarcascades) / "haarcascade_frontalface_default.xml"
    cascade = cv2.CascadeClassifier(str(path))
    if cascade.empty():
        raise RuntimeError(f"cannot load the Haar cascade {path} (OpenCV 5 no longer ships it)")
    return cascade


def _pick(faces: Sequence[Box], previous: Box | None) -> Box | None:
    """The largest face, favouring one near the face followed so far (keeps the track stable)."""
    if not faces:
        return None

    def score(box: Box) -> float:
        area = box[2] * box[3]
        if previous is None:
            return area
        dist = math.hypot(
            box[0] + box[2] / 2 - previous[0] - previous[2] / 2,
            box[1] + box[3] / 2 - previous[1] - previous[3] / 2,
        )
        return area / (1.0 + dist / max(previous[2], 1))

    return max(faces, key=score)


def detect_faces(
    video: str | Path,
    start: float = 0.0,
    end: float | None = None,
    *,
    config: ReframeConfig | None = None,
) -> tuple[list[FaceSample], int, int]:
    """Sample frames of ``video`` between ``start`` and ``end`` seconds and find the main face.

    Returns the samples (times relative to ``start``, boxes in source pixels) and the source size.
    Frames are decoded by an ffmpeg subprocess (like every other media step) that hands over only
    the sampled frames, already downscaled and grey, so the caller never holds full-size frames and
    decoding overlaps with detection.
    """
    import cv2

    cfg = config or ReframeConfig()
    width, height = _video_size(video)
    aw = min(width, max(2, cfg.analysis_width // 2 * 2))
    ah = max(2, round(height * aw / width / 2) * 2)
    scale_x, scale_y = width / aw, height / ah
    min_side = max(20, int(ah * cfg.min_face_fraction))
    cascade = _cascade()
    samples: list[FaceSample] = []
    previous: Box | None = None
    near: Box | None = None  # the face of the previous sample, in analysed pixels
    for index, gray in enumerate(_sampled_frames(video, start, end, cfg.sample_fps, aw, ah)):
        image = cv2.equalizeHist(gray)
        found: list[Box] = []
        if near is not None and index % cfg.full_scan_every:
            found = _search_near(cascade, image, near, min_side, cfg.min_neighbors)
        if not found:
            found = [
                tuple(int(v) for v in f)  # type: ignore[misc]
                for f in cascade.detectMultiScale(  # type: ignore[attr-defined]
                    image, scaleFactor=1.1, minNeighbors=cfg.min_neighbors, minSize=(min_side, min_side)
                )
            ]
        boxes: list[Box] = [
            (int(x * scale_x), int(y * scale_y), int(w * scale_x), int(h * scale_y)) for (x, y, w, h) in found
        ]
        box = _pick(boxes, previous)
        previous = box or previous
        near = found[boxes.index(box)] if box is not None else None
        samples.append(FaceSample(t=index / cfg.sample_fps, box=box))
    return samples, width, height


def _search_near(cascade: object, image: np.ndarray, face: Box, min_side: int, min_neighbors: int) -> list[Box]:
    """Faces of about the size of ``face`` within one face size of it (a small fraction of a full scan)."""
    x, y, w, h = face
    x0, y0 = max(0, x - w), max(0, y - h)
    x1, y1 = min(image.shape[1], x + 2 * w), min(image.shape[0], y + 2 * h)
    low, high = max(min_side, int(w * 0.7)), int(w * 1.4) + 1
    if x1 - x0 < low or y1 - y0 < low:
        return []
    found = cascade.detectMultiScale(  # type: ignore[attr-defined]
        image[y0:y1, x0:x1], scaleFactor=1.1, minNeighbors=min_neighbors, minSize=(low, low), maxSize=(high, high)
    )
    return [(int(fx) + x0, int(fy) + y0, int(fw), int(fh)) for (fx, fy, fw, fh) in found]


def _video_size(video: str | Path) -> tuple[int, int]:
    from clipforge_common.ffmpeg import MediaToolError, ffprobe

    try:
        streams = ffprobe(video)["streams"]
    except MediaToolError as exc:
        raise ValueError(f"cannot open video {video}: {exc}") from exc
    for s in streams:
        if s.get("codec_type") == "video" and not (s.get("disposition") or {}).get("attached_pic"):
            width, height = int(s["width"]), int(s["height"])
            # ffmpeg applies the display rotation (phone videos), so frames come out turned.
            rotation = next((d.get("rotation") for d in s.get("side_data_list") or [] if "rotation" in d), None)
            rotation = rotation if rotation is not None else (s.get("tags") or {}).get("rotate", 0)
            if round(float(rotation)) % 180 == 90:
                width, height = height, width
            return width, height
    raise ValueError(f"{video} has no video stream")


def _sampled_frames(
    video: str | Path, start: float, end: float | None, fps: float, width: int, height: int
) -> Iterator[np.ndarray]:
    """Grey ``width`` x ``height`` frames at ``fps`` from ``start`` (frame i is at ``start + i / fps``)."""
    from clipforge_common.ffmpeg import FFMPEG, MediaToolError, media_tool_options

    cut = ["-ss", f"{max(0.0, start):.3f}"] + (["-t", f"{max(0.0, end - start):.3f}"] if end is not None else [])
    cmd = [
        FFMPEG, "-hide_banner", "-nostdin", "-v", "error",
        # A detector looking at a few downscaled frames a second needs neither B-frames nor deblocking.
        "-skip_frame", "bidir", "-skip_loop_filter", "all", *cut, "-i", os.fspath(video), "-an", "-sn", "-dn",
        "-vf", f"fps={fps:g},scale={width}:{height}:flags=area,format=gray",
        "-f", "rawvideo", "-pix_fmt", "gray", "pipe:1",
    ]  # fmt: skip
    frame_bytes = width * height
    proc = subprocess.Popen(
        cmd, stdin=subprocess.DEVNULL, stdout=subprocess.PIPE, stderr=subprocess.PIPE, **media_tool_options()
    )
    assert proc.stdout is not None
    with contextlib.suppress(ImportError, OSError, AttributeError):
        import fcntl

        # Room for a few frames in the pipe (Linux), so ffmpeg decodes ahead while a frame is analysed.
        fcntl.fcntl(proc.stdout.fileno(), fcntl.F_SETPIPE_SZ, min(4 * frame_bytes, 1 << 20))
    tail: collections.deque[str] = collections.deque(maxlen=20)

    def drain() -> None:  # keep stderr flowing so ffmpeg never blocks on a full pipe
        assert proc.stderr is not None
        for raw in proc.stderr:
            tail.append(raw.decode("utf-8", "replace").rstrip())

    reader = threading.Thread(target=drain, daemon=True)
    reader.start()
    try:
        while True:
            buf = proc.stdout.read(frame_bytes)
            if len(buf) < frame_bytes:
                break
            yield np.frombuffer(buf, dtype=np.uint8).reshape(height, width)
        code = proc.wait()
    finally:
        if proc.poll() is None:
            proc.kill()
            proc.wait()
        reader.join(timeout=5)
    if code != 0:
        raise MediaToolError(f"ffmpeg could not sample frames of {Path(video).name}", stderr_tail="\n".join(tail))


# --------------------------------------------------------------------------- path planning


def _median3(values: np.ndarray) -> np.ndarray:
    if len(values) < 3:
        return values.copy()
    padded = np.concatenate([values[:1], values, values[-1:]])
    return np.median(np.stack([padded[:-2], padded[1:-1], padded[2:]]), axis=0)


def _causal(values: np.ndarray, times: np.ndarray, tau: float, dead_zone: float, max_speed: float) -> np.ndarray:
    out = np.empty_like(values)
    cur = values[0]
    out[0] = cur
    for i in range(1, len(values)):
        dt = max(abs(times[i] - times[i - 1]), 1e-3)
        err = values[i] - cur
        # Inside the dead zone the camera stays put; outside it chases only the excess, so the
        # subject drifts a little before the frame follows, like a calm operator.
        goal = cur if abs(err) <= dead_zone else values[i] - math.copysign(dead_zone, err)
        step = (goal - cur) * (1.0 - math.exp(-dt / tau))
        limit = max_speed * dt
        cur += max(-limit, min(limit, step))
        out[i] = cur
    return out


def smooth_offsets(
    times: Sequence[float],
    offsets: Sequence[float],
    *,
    time_constant: float,
    dead_zone: float,
    max_speed: float,
) -> np.ndarray:
    """Zero-lag smoothing: dead zone + exponential + speed limit, run forwards and backwards.

    ``dead_zone`` is in pixels, ``max_speed`` in pixels per second.
    """
    t = np.asarray(times, dtype=np.float64)
    v = np.asarray(offsets, dtype=np.float64)
    if len(v) < 2:
        return v.copy()
    fwd = _causal(v, t, time_constant, dead_zone, max_speed)
    bwd = _causal(v[::-1], t[::-1], time_constant, dead_zone, max_speed)[::-1]
    return (fwd + bwd) / 2.0


def simplify_path(
    times: Sequence[float], values: Sequence[float], tolerance: float, max_segments: int
) -> list[tuple[float, float]]:
    """Douglas-Peucker on (t, value) with vertical error; loosens the tolerance until the path has
    at most ``max_segments`` segments."""
    t = np.asarray(times, dtype=np.float64)
    v = np.asarray(values, dtype=np.float64)
    if len(t) <= 2:
        return list(zip(t.tolist(), v.tolist(), strict=True))
    tol = tolerance
    while True:
        keep = np.zeros(len(t), dtype=bool)
        keep[0] = keep[-1] = True
        stack = [(0, len(t) - 1)]
        while stack:
            a, b = stack.pop()
            if b - a < 2:
                continue
            seg = t[a + 1 : b]
            line = v[a] + (v[b] - v[a]) * (seg - t[a]) / max(t[b] - t[a], 1e-9)
            err = np.abs(v[a + 1 : b] - line)
            k = int(np.argmax(err))
            if err[k] > tol:
                mid = a + 1 + k
                keep[mid] = True
                stack += [(a, mid), (mid, b)]
        if keep.sum() - 1 <= max_segments:
            return list(zip(t[keep].tolist(), v[keep].tolist(), strict=True))
        tol *= 1.5


def plan_crop_path(
    samples: Sequence[FaceSample],
    source_width: int,
    source_height: int,
    aspect: float,
    duration: float,
    *,
    config: ReframeConfig | None = None,
) -> CropPath:
    """A smooth crop path of aspect ``aspect`` (w/h) following the faces in ``samples``."""
    cfg = config or ReframeConfig()
    cw, ch, axis = crop_size(source_width, source_height, aspect)
    centred = CropPath.centered(source_width, source_height, aspect)
    seen = [s for s in samples if s.box is not None]
    if axis is None or not seen:
        return centred
    length = source_width if axis == "x" else source_height
    crop_len = cw if axis == "x" else ch
    span = length - crop_len

    def extent(box: Box) -> tuple[float, float]:
        return (box[0], box[0] + box[2]) if axis == "x" else (box[1], box[1] + box[3])

    times = np.array([s.t for s in samples], dtype=np.float64)
    # Median over the detections alone (gaps skipped) drops one-frame false positives; then hold the
    # last face through gaps (and the first one before it appears): a speaker who looks away for a
    # moment has not moved.
    found = [i for i, s in enumerate(samples) if s.box is not None]
    raw = np.array([sum(extent(samples[i].box)) / 2 for i in found])  # type: ignore[arg-type]
    clean = _median3(raw)
    filtered = np.empty(len(samples))
    k = 0
    for i in range(len(samples)):
        if k + 1 < len(found) and found[k + 1] <= i:
            k += 1
        filtered[i] = clean[k]
    desired = np.clip(filtered - crop_len / 2, 0, span)

    # Split at camera cuts so the path jumps instead of sweeping across the frame.
    cuts = [0, *[i for i in range(1, len(desired)) if abs(desired[i] - desired[i - 1]) > cfg.cut_threshold * length]]
    cuts.append(len(desired))
    smoothed = np.empty_like(desired)
    for a, b in itertools.pairwise(cuts):
        smoothed[a:b] = smooth_offsets(
            times[a:b],
            desired[a:b],
            time_constant=cfg.time_constant,
            dead_zone=cfg.dead_zone * crop_len,
            max_speed=cfg.max_speed * length,
        )

    # Never let smoothing push a detected face out of the window (only faces on the track: a
    # one-frame false detection the median threw away must not drag the window after it).
    for i, s in enumerate(samples):
        if s.box is None:
            continue
        a, b = extent(s.box)
        if abs((a + b) / 2 - filtered[i]) > max(b - a, 0.05 * length):
            continue
        margin = cfg.face_margin * (b - a)
        lo, hi = b + margin - crop_len, a - margin
        if lo <= hi:
            smoothed[i] = min(max(smoothed[i], lo), hi)
        else:  # face bigger than the window: centre it
            smoothed[i] = (a + b) / 2 - crop_len / 2
    smoothed = np.clip(smoothed, 0, span)

    tol = cfg.tolerance * length
    keyframes: list[tuple[float, float]] = []
    budget = max(1, cfg.max_segments - 2 * (len(cuts) - 2))
    for n, (a, b) in enumerate(itertools.pairwise(cuts)):
        part = simplify_path(times[a:b], smoothed[a:b], tol, max(1, budget // (len(cuts) - 1)))
        if n > 0 and keyframes:
            # A cut: hold the old offset until just before the new shot's first sample.
            keyframes.append((max(keyframes[-1][0], part[0][0] - 1e-3), keyframes[-1][1]))
        keyframes.extend(part)
    if keyframes[0][0] > 0:
        keyframes.insert(0, (0.0, keyframes[0][1]))
    if keyframes[-1][0] < duration:
        keyframes.append((float(duration), keyframes[-1][1]))
    rounded = tuple((round(t, 3), round(v, 1)) for t, v in keyframes)
    return CropPath(source_width, source_height, cw, ch, axis, rounded)


def reframe(
    video: str | Path,
    start: float,
    end: float,
    aspect: float,
    *,
    config: ReframeConfig | None = None,
) -> tuple[CropPath, list[FaceSample]]:
    """Detect faces in ``video[start:end]`` and plan the crop path for output aspect ``aspect``."""
    samples, width, height = detect_faces(video, start, end, config=config)
    if width <= 0 or height <= 0:
        raise ValueError(f"{video} has no readable video frames")
    return plan_crop_path(samples, width, height, aspect, end - start, config=config), samples
