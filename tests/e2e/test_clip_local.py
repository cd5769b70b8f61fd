"""`clipforge clip --local`: the whole pipeline in one process, as a user runs it."""

from __future__ import annotations

import json
import subprocess
import sys

import pytest
from clipforge_common.captions import parse_srt
from clipforge_common.ffmpeg import ffprobe
from clipforge_common.sample_media import cached_talk

pytestmark = pytest.mark.slow


def test_clip_local_writes_ranked_clips_and_transcript(tmp_path):
    talk, script = cached_talk()
    out = tmp_path / "clips"
    proc = subprocess.run(
        [sys.executable, "-m", "clipforge_cli.main", "clip", "--local", str(talk), "--out", str(out), "--top", "1"],
        capture_output=True,
        text=True,
        timeout=900,
        check=False,
    )
    assert proc.returncode == 0, proc.stderr[-3000:]
    assert "ClipForge clips" in proc.stdout

    clips = json.loads((out / "clips.json").read_text())
    assert clips, "at least one clip is ranked"
    assert [c["rank"] for c in clips] == list(range(1, len(clips) + 1))
    assert [c["score"] for c in clips] == sorted((c["score"] for c in clips), reverse=True)
    for clip in clips:
        assert {"clip_id", "start", "end", "score", "title", "reasons", "features", "files"} <= set(clip)
        assert 0 <= clip["start"] < clip["end"] <= script.duration + 0.5
    best = clips[0]
    video = out / best["files"]["video"]
    probe = ffprobe(video)
    streams = {s["codec_type"]: s for s in probe["streams"]}
    assert streams["video"]["codec_name"] == "h264" and streams["audio"]["codec_name"] == "aac"
    assert (int(streams["video"]["width"]), int(streams["video"]["height"])) == (1080, 1920)
    assert abs(float(probe["format"]["duration"]) - (best["end"] - best["start"])) < 0.1
    assert (out / best["files"]["thumbnail"]).stat().st_size > 0
    assert parse_srt((out / best["files"]["srt"]).read_text())
    assert all(not c["files"] for c in clips[1:])  # --top 1 renders only the best

    transcript = json.loads((out / "transcript.json").read_text())
    assert transcript["words"] and transcript["sentences"]
    assert set(transcript["words"][0]) == {"word", "start", "end", "confidence"}
    assert set(transcript["sentences"][0]) == {"text", "start", "end"}
    assert not (out / ".work").exists()


def test_clip_local_names_the_failing_stage(tmp_path):
    bogus = tmp_path / "notes.mp4"
    bogus.write_text("this is text, not a video\n")
    proc = subprocess.run(
        [sys.executable, "-m", "clipforge_cli.main", "clip", "--local", str(bogus), "--out", str(tmp_path / "o")],
        capture_output=True,
        text=True,
        timeout=300,
        check=False,
    )
    assert proc.returncode == 1
    assert "the ingest stage failed (not_media)" in proc.stderr
