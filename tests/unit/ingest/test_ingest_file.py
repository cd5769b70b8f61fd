"""ingest_file: the in-process ingest core (validate, hash, extract audio)."""

from __future__ import annotations

import wave
from pathlib import Path

import pytest
from clipforge_common.sample_media import SpeechScript
from clipforge_ingest.domain import IngestLimits, IngestRejected, ingest_file, sha256_file


def test_ingest_file_produces_media_info_hash_and_audio(talk_mp4: tuple[Path, SpeechScript], tmp_path: Path) -> None:
    src, script = talk_mp4
    progress: list[float] = []
    result = ingest_file(src, tmp_path / "work", IngestLimits(), progress.append)
    assert result.sha256 == sha256_file(src)
    assert result.media.has_video and result.media.has_audio
    assert result.audio_path == tmp_path / "work" / "audio.wav"
    with wave.open(str(result.audio_path)) as w:
        assert (w.getframerate(), w.getnchannels()) == (16000, 1)
        assert w.getnframes() / 16000 == pytest.approx(script.duration, abs=0.1)
    assert progress[0] > 0 and progress[-1] == 1.0
    assert progress == sorted(progress)


def test_ingest_file_rejects_before_writing_anything(tmp_path: Path) -> None:
    bad = tmp_path / "notes.mp4"
    bad.write_text("not a video at all, just some words typed into a file\n" * 5)
    work = tmp_path / "work"
    with pytest.raises(IngestRejected) as info:
        ingest_file(bad, work)
    assert info.value.reason_code == "not_media"
    assert not work.exists()
