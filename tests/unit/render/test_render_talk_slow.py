"""Slow: a synthesized talk (hibari speech + moving astronaut) ranked, then its best clip rendered."""

from __future__ import annotations

from pathlib import Path

import pytest
from clipforge_common.ffmpeg import ffprobe, run_ffmpeg
from clipforge_common.sample_media import SpeechScript, cached_talk
from clipforge_common.transcript import Sentence, Transcript, Word
from clipforge_rank.domain import rank_transcript
from clipforge_render.domain import CaptionStyle, ReframeConfig, get_preset, render_clip
from clipforge_render.domain.reframe import detect_faces

pytestmark = pytest.mark.slow


def _transcript(script: SpeechScript) -> Transcript:
    """Words spread evenly over each spoken sentence (stands in for ASR output)."""
    words: list[Word] = []
    sentences: list[Sentence] = []
    for s in script.sentences:
        tokens = s.text.split()
        step = (s.end - s.start) / len(tokens)
        first = len(words)
        for i, token in enumerate(tokens):
            words.append(Word(word=token, start=round(s.start + i * step, 3), end=round(s.start + (i + 0.9) * step, 3)))
        sentences.append(
            Sentence(text=s.text, start=s.start, end=words[-1].end, first_word=first, last_word=len(words) - 1)
        )
    return Transcript(
        video_id="talk", engine="script", engine_version="0", duration=script.duration, words=words, sentences=sentences
    )


def test_rank_then_render_a_synthesized_talk(tmp_path: Path) -> None:
    video, script = cached_talk(suffix=".mp4", face="moving")
    transcript = _transcript(script)
    wav = tmp_path / "audio.wav"
    run_ffmpeg(["-i", str(video), "-vn", "-ac", "1", "-ar", "16000", str(wav)])

    ranked = rank_transcript(transcript, audio_path=wav)
    assert ranked.audio_used and ranked.clips
    best = ranked.clips[0]
    assert 15 <= best.end - best.start <= 90
    assert best.hook == script.sentences[best.first_sentence].text

    preset = get_preset("vertical").scaled(0.25)
    out = render_clip(
        video, best, transcript.words, preset, CaptionStyle(), tmp_path / best.clip_id, transcript=transcript
    )
    info = ffprobe(out.video_path)
    assert float(info["format"]["duration"]) == pytest.approx(best.end - best.start, abs=0.1)
    assert {s["codec_name"] for s in info["streams"]} == {"h264", "aac"}
    assert out.srt_path is not None and out.srt_path.read_text().strip()

    # The crop the render used keeps the (moving) face in frame.
    path = out.crop_path
    assert path is not None and path.axis == "x"
    checks, _, _ = detect_faces(video, best.start, best.end, config=ReframeConfig(sample_fps=4))
    boxes = [s for s in checks if s.box is not None]
    assert boxes
    inside = sum(
        path.window_at(s.t)[0] <= s.box[0] and s.box[0] + s.box[2] <= path.window_at(s.t)[0] + path.crop_width  # type: ignore[index]
        for s in boxes
    )
    assert inside / len(boxes) >= 0.95
