"""The pause cue of topic segmentation: a long silence marks a topic change the words alone miss."""

from __future__ import annotations

import numpy as np
import pytest
from clipforge_common.sample_media import DEFAULT_TALK
from clipforge_common.transcript import Sentence, Transcript
from clipforge_rank.domain import RankerConfig, TopicConfig, rank_transcript
from clipforge_rank.domain.topics import pause_scores, segment_topics

from tests.unit.rank.rank_samples import make_transcript

# The synthesized talk's script: its topics share few content words from sentence to sentence, so
# the TF-IDF curve alone puts the valleys a sentence or two off the real changes.
TALK = [sentence for topic in DEFAULT_TALK for sentence in topic.sentences]


def _with_pauses(transcript: Transcript, long_gaps: dict[int, float]) -> Transcript:
    """Shift sentences so the gap before sentence ``i`` grows by ``long_gaps[i]`` seconds."""
    shift = 0.0
    words = list(transcript.words)
    sentences: list[Sentence] = []
    for i, s in enumerate(transcript.sentences):
        shift += long_gaps.get(i, 0.0)
        for k in range(s.first_word, s.last_word + 1):
            w = words[k]
            words[k] = w.model_copy(update={"start": w.start + shift, "end": w.end + shift})
        sentences.append(s.model_copy(update={"start": s.start + shift, "end": s.end + shift}))
    return transcript.model_copy(
        update={"words": words, "sentences": sentences, "duration": transcript.duration + shift}
    )


def test_pause_scores_are_zero_for_ordinary_gaps_and_one_for_double_length() -> None:
    t = _with_pauses(make_transcript(TALK[:6], gap=0.7), {3: 0.9})
    scores = pause_scores(t.sentences)
    assert scores.shape == (5,)
    assert scores[2] == pytest.approx(1.0)  # gap before sentence 3: 1.6 s against a 0.7 s median
    assert np.allclose(np.delete(scores, 2), 0.0, atol=0.02)
    assert pause_scores(t.sentences[:1]).size == 0


def test_uniform_gaps_leave_the_word_based_segmentation_unchanged() -> None:
    t = make_transcript(TALK, gap=0.5)
    assert not pause_scores(t.sentences).any()
    with_cue = segment_topics(t.sentences, config=TopicConfig())
    words_only = segment_topics(t.sentences, config=TopicConfig(pause_weight=0))
    assert with_cue == words_only


def test_long_pauses_mark_topic_changes_the_words_miss() -> None:
    t = _with_pauses(make_transcript(TALK, gap=0.7), {8: 0.9, 16: 0.9})
    assert segment_topics(t.sentences, config=TopicConfig()).boundaries == [8, 16]
    # Words alone miss the changes in this talk.
    assert segment_topics(t.sentences, config=TopicConfig(pause_weight=0)).boundaries != [8, 16]


def test_candidates_stay_inside_pause_marked_topics() -> None:
    t = _with_pauses(make_transcript(TALK, gap=0.7), {8: 0.9, 16: 0.9})
    result = rank_transcript(t, config=RankerConfig())
    assert result.topic_boundaries == [8, 16]
    assert result.clips
    for clip in result.clips:
        assert not any(clip.first_sentence < b <= clip.last_sentence for b in result.topic_boundaries)
