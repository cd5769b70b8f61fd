"""Small synthetic media for the render unit tests (a uniquely named module, imported by tests)."""

from __future__ import annotations

import subprocess
from pathlib import Path

import cv2
from clipforge_common.transcript import Word
from skimage import data as skdata


def face_png(path: Path, side: int) -> Path:
    """scikit-image's bundled astronaut photo, ``side`` pixels square (BGR PNG for ffmpeg)."""
    img = cv2.resize(skdata.astronaut()[:, :, ::-1], (side, side), interpolation=cv2.INTER_AREA)
    assert cv2.imwrite(str(path), img)
    return path


def moving_face_video(
    out: Path,
    *,
    seconds: float = 6.0,
    width: int = 640,
    height: int = 360,
    fps: int = 30,
    audio: bool = True,
    face: str = "moving",
) -> Path:
    """A 16:9 canvas with the astronaut moving left to right (or still / absent), plus a tone."""
    side = int(height * 0.8) // 2 * 2
    margin = width // 16
    x = {
        "moving": f"'{margin}+({width - side - 2 * margin})*t/{seconds}'",
        "left": str(margin),
        "right": str(width - side - margin),
    }
    args = [
        "ffmpeg",
        "-v",
        "error",
        "-y",
        "-f",
        "lavfi",
        "-i",
        f"color=c=0x1f2a36:s={width}x{height}:r={fps}:d={seconds}",
    ]
    if face == "none":
        graph = "[0:v]format=yuv420p[v]"
        audio_index = 1
    else:
        png = face_png(out.with_suffix(".face.png"), side)
        args += ["-loop", "1", "-framerate", str(fps), "-i", str(png)]
        graph = f"[0:v][1:v]overlay=x={x[face]}:y={(height - side) // 2}:shortest=1:eval=frame,format=yuv420p[v]"
        audio_index = 2
    if audio:
        args += ["-f", "lavfi", "-i", f"sine=frequency=330:sample_rate=48000:duration={seconds}"]
    args += ["-filter_complex", graph, "-map", "[v]"]
    if audio:
        args += ["-map", f"{audio_index}:a", "-c:a", "aac", "-b:a", "64k"]
    args += ["-c:v", "libx264", "-preset", "ultrafast", "-crf", "26", "-g", str(fps), "-t", str(seconds)]
    subprocess.run([*args, str(out)], check=True)
    return out


def tone_audio(out: Path, seconds: float = 4.0) -> Path:
    """An audio-only source (AAC in .m4a)."""
    subprocess.run(
        ["ffmpeg", "-v", "error", "-y", "-f", "lavfi", "-i", f"sine=frequency=220:duration={seconds}",
         "-c:a", "aac", "-b:a", "64k", str(out)],
        check=True,
    )  # fmt: skip
    return out


def timed_words(text: str, start: float = 0.0, wps: float = 3.0, gap_every: int = 0) -> list[Word]:
    """Evenly timed words; with ``gap_every`` a 0.8 s pause follows every n-th word."""
    words: list[Word] = []
    t = start
    for i, token in enumerate(text.split(), start=1):
        words.append(Word(word=token, start=round(t, 3), end=round(t + 0.9 / wps, 3)))
        t += 1.0 / wps
        if gap_every and i % gap_every == 0:
            t += 0.8
    return words
