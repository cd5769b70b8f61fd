"""`clipforge clip FILE`, the README's main job, through the running services."""

from __future__ import annotations

import json
import os
import subprocess
import sys

import pytest
from clipforge_common.captions import parse_srt
from clipforge_common.ffmpeg import ffprobe
from clipforge_common.sample_media import cached_talk

pytestmark = pytest.mark.slow


def test_clip_command_downloads_ranked_rendered_clips(platform, tmp_path):
    _base, key = platform
    talk, _script = cached_talk()
    out = tmp_path / "clips"
    proc = subprocess.run(
        [sys.executable, "-m", "clipforge_cli.main", "clip", str(talk), "--out", str(out), "--top", "1"],
        env={**os.environ, "CLIPFORGE_API_KEY": key},
        capture_output=True,
        text=True,
        timeout=900,
        check=False,
    )
    assert proc.returncode == 0, proc.stderr[-3000:]
    clips = json.loads((out / "clips.json").read_text())
    assert clips[0]["rank"] == 1 and clips[0]["files"]["video"]
    for name in clips[0]["files"].values():
        assert (out / name).stat().st_size > 0
    probe = ffprobe(out / clips[0]["files"]["video"])
    assert {s["codec_type"] for s in probe["streams"]} == {"video", "audio"}
    assert parse_srt((out / clips[0]["files"]["srt"]).read_text())
    transcript = json.loads((out / "transcript.json").read_text())
    assert transcript["words"] and {"word", "start", "end", "confidence"} == set(transcript["words"][0])
    assert transcript["sentences"] and {"text", "start", "end"} == set(transcript["sentences"][0])


def test_clip_command_says_which_stage_failed(platform, tmp_path):
    _base, key = platform
    silent = tmp_path / "silent.mp4"
    subprocess.run(
        ["ffmpeg", "-v", "error", "-f", "lavfi", "-i", "testsrc=size=320x240:rate=10", "-t", "3", str(silent)],
        check=True,
    )
    proc = subprocess.run(
        [sys.executable, "-m", "clipforge_cli.main", "clip", str(silent), "--out", str(tmp_path / "o")],
        env={**os.environ, "CLIPFORGE_API_KEY": key},
        capture_output=True,
        text=True,
        timeout=600,
        check=False,
    )
    assert proc.returncode == 1
    assert "the ingest stage failed (no_audio_track)" in proc.stderr
