"""Feature heuristics and the audio envelope."""

from __future__ import annotations

import wave
from pathlib import Path

import numpy as np
import pytest
from clipforge_rank.domain import RankerConfig, rank_transcript
from clipforge_rank.domain.candidates import generate_candidates
from clipforge_rank.domain.features import (
    FEATURE_NAMES,
    AudioEnvelope,
    FeatureExtractor,
    coherence_from_vectors,
    duration_fit,
    ending_completeness,
    hook_strength,
    loudness_dynamics,
    self_containedness,
    sentiment_intensity,
    speech_rate_score,
)
from clipforge_rank.domain.scoring import score
from clipforge_rank.domain.topics import TfidfSentenceVectorizer

from tests.unit.rank.rank_samples import COFFEE, make_transcript

HOOK = "Why do most people brew coffee completely wrong?"
DANGLING = "And that's why it kept happening to him again and again."


@pytest.mark.parametrize(
    ("text", "cue"),
    [
        ("Why does coffee taste bitter?", "question"),
        ("Here are 3 rules for espresso.", "number"),
        ("The secret is the water.", "surprise"),
        ("This is the best grinder ever made.", "claim"),
        ("You can brew better coffee at home.", "you"),
    ],
)
def test_hook_cues(text: str, cue: str) -> None:
    value, cues = hook_strength(text)
    assert cue in cues
    assert value > hook_strength("The grinder sits on the counter.")[0]


def test_dangling_openers_are_not_self_contained() -> None:
    assert self_containedness("Coffee is a fruit seed.") == 1.0
    for opener in ("And then", "So the", "But it", "That's why we", "Because the", "He said", "Which is"):
        assert self_containedness(f"{opener} coffee is roasted.") <= 0.4, opener


def test_ending_completeness() -> None:
    good = ending_completeness("That is how you brew great coffee.", next_text="Now, tea.", gap_after=0.8)
    assert good == pytest.approx(1.0)
    assert ending_completeness("and then we roasted the beans and", punctuated=False) < 0.5
    assert ending_completeness("We roasted the beans,", punctuated=True) < good
    assert ending_completeness("Yes.", gap_after=1.0) < good
    assert ending_completeness("We roasted the beans.", next_text="And then it burned.") < good
    # Plain ASR has no punctuation at all: a missing full stop is then no evidence.
    assert ending_completeness("we roasted the beans", punctuated=False, gap_after=1.0) == 1.0


def test_duration_fit_peaks_at_target() -> None:
    assert duration_fit(35, 35, 0.45) == pytest.approx(1.0)
    assert duration_fit(20, 35, 0.45) < duration_fit(30, 35, 0.45) < 1.0
    assert duration_fit(90, 35, 0.45) < duration_fit(50, 35, 0.45) < 1.0


def test_coherence_and_sentiment_ranges() -> None:
    same = np.tile([[1.0, 0.0]], (4, 1))
    orthogonal = np.eye(4)
    assert coherence_from_vectors(same) == pytest.approx(1.0)
    assert coherence_from_vectors(orthogonal) == pytest.approx(0.0)
    assert coherence_from_vectors(np.zeros((3, 2))) == 0.5
    assert sentiment_intensity([0.9, -0.9]) == pytest.approx(0.9)
    assert sentiment_intensity([]) == 0.0


def test_speech_rate_prefers_conversational_pace() -> None:
    assert speech_rate_score([3.0, 3.0], 60, 20) > speech_rate_score([1.2, 1.2], 24, 20)
    assert speech_rate_score([3.0, 3.0], 60, 20) > speech_rate_score([6.0, 6.0], 120, 20)
    assert speech_rate_score([2.5, 3.5], 60, 20) > speech_rate_score([3.0, 3.0], 60, 20)


def _write_wav(path: Path, samples: np.ndarray, rate: int = 16_000) -> Path:
    with wave.open(str(path), "wb") as wf:
        wf.setnchannels(1)
        wf.setsampwidth(2)
        wf.setframerate(rate)
        wf.writeframes((np.clip(samples, -1, 1) * 32767).astype("<i2").tobytes())
    return path


def _tone(seconds: float, envelope: np.ndarray | None = None, rate: int = 16_000) -> np.ndarray:
    t = np.arange(int(seconds * rate)) / rate
    tone = 0.3 * np.sin(2 * np.pi * 220 * t)
    return tone if envelope is None else tone * envelope


def test_loudness_dynamics_from_wav(tmp_path: Path) -> None:
    rate = 16_000
    t = np.arange(20 * rate) / rate
    lively = _tone(20, 0.15 + 0.85 * (np.sin(2 * np.pi * 0.5 * t) > 0))  # ~15 dB phrase swings
    flat_env = AudioEnvelope.from_wav(_write_wav(tmp_path / "flat.wav", _tone(20)))
    lively_env = AudioEnvelope.from_wav(_write_wav(tmp_path / "lively.wav", lively))
    flat = loudness_dynamics(flat_env.rms, flat_env.hop)
    live = loudness_dynamics(lively_env.rms, lively_env.hop)
    assert 0.0 <= flat < 0.2 < 0.7 < live <= 1.0
    silent = AudioEnvelope.from_wav(_write_wav(tmp_path / "silent.wav", np.zeros(5 * rate)))
    assert loudness_dynamics(silent.rms) == 0.0


def test_envelope_reads_only_the_requested_window(tmp_path: Path) -> None:
    wav = _write_wav(tmp_path / "a.wav", _tone(30))
    env = AudioEnvelope.from_wav(wav, 10.0, 12.5, hop=0.05, chunk_seconds=1.0)
    assert env.start == pytest.approx(10.0)
    assert len(env.rms) == 50
    assert np.allclose(env.rms, 0.3 / np.sqrt(2), atol=0.01)
    assert len(env.slice(11.0, 12.0)) == 20


def test_audio_is_optional_and_neutral_when_absent(tmp_path: Path) -> None:
    t = make_transcript(COFFEE)
    without = rank_transcript(t)
    assert not without.audio_used
    assert all(c.features["loudness_dynamics"] == 0.5 for c in without.clips)
    wav = _write_wav(tmp_path / "speech.wav", _tone(t.duration + 1))
    with_audio = rank_transcript(t, audio_path=wav)
    assert with_audio.audio_used
    assert all(c.features["loudness_dynamics"] < 0.5 for c in with_audio.clips)  # a flat tone
    broken = tmp_path / "broken.wav"
    broken.write_bytes(b"not a wav file at all")
    assert not rank_transcript(t, audio_path=broken).audio_used


def test_feature_vector_is_complete_and_bounded() -> None:
    t = make_transcript(COFFEE)
    cfg = RankerConfig()
    matrix = TfidfSentenceVectorizer().vectorize([s.text for s in t.sentences])
    cands = generate_candidates(t.sentences, min_seconds=15, max_seconds=90)
    ext = FeatureExtractor(t, matrix, cfg, max_span=max(c.sentence_count for c in cands))
    for c in cands:
        f = ext.extract(c).values
        assert tuple(f) == FEATURE_NAMES
        assert all(0.0 <= v <= 1.0 for v in f.values())
        rows = matrix[c.first_sentence : c.last_sentence + 1].toarray()
        assert f["coherence"] == pytest.approx(coherence_from_vectors(rows), abs=1e-3)


def test_strong_hook_outscores_dangling_opener() -> None:
    body = COFFEE[1:7]
    cfg = RankerConfig()
    scores = {}
    for name, opener in (("hook", HOOK), ("dangling", DANGLING)):
        t = make_transcript([opener, *body])
        matrix = TfidfSentenceVectorizer().vectorize([s.text for s in t.sentences])
        n = len(t.sentences)
        cands = [c for c in generate_candidates(t.sentences, min_seconds=15, max_seconds=90)]
        whole = next(c for c in cands if c.first_sentence == 0 and c.last_sentence == n - 1)
        ext = FeatureExtractor(t, matrix, cfg, max_span=n)
        scores[name] = score(ext.extract(whole).values, cfg.weights)
    assert scores["hook"] > scores["dangling"] + 10

    # End to end: with both openers in one talk, the clip that opens on the hook ranks first.
    t = make_transcript([DANGLING, *COFFEE[1:6], HOOK, *COFFEE[6:11]])
    best = rank_transcript(t, config=RankerConfig(min_seconds=15, target_seconds=30, max_seconds=35)).clips[0]
    assert best.hook == HOOK
    assert best.reasons[0] == "Opens with a question"
