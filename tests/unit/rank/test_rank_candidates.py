"""Candidates: whole sentences, bounded durations, never across a topic boundary, overlap rule."""

from __future__ import annotations

from clipforge_common.transcript import Transcript
from clipforge_rank.domain import RankerConfig, rank_transcript, select_non_overlapping
from clipforge_rank.domain.candidates import Candidate, generate_candidates, overlap_ratio
from clipforge_rank.domain.topics import segment_topics

from tests.unit.rank.rank_samples import COFFEE, FINANCE, SPACE, make_transcript


def test_candidates_start_and_end_on_sentence_boundaries(three_topics: Transcript) -> None:
    sents = three_topics.sentences
    starts = {s.start for s in sents}
    ends = {s.end for s in sents}
    cands = generate_candidates(sents, min_seconds=15, max_seconds=90)
    assert cands
    for c in cands:
        assert c.start in starts and c.end in ends
        assert c.start == sents[c.first_sentence].start
        assert c.end == sents[c.last_sentence].end
        assert 15 <= c.duration <= 90


def test_ranked_clips_start_and_end_on_sentence_boundaries(three_topics: Transcript) -> None:
    sents = three_topics.sentences
    result = rank_transcript(three_topics)
    assert result.clips
    for clip in result.clips:
        assert clip.start == round(sents[clip.first_sentence].start, 3)
        assert clip.end == round(sents[clip.last_sentence].end, 3)
        # No word of the transcript is cut by the clip edges.
        for w in three_topics.words:
            assert not (w.start < clip.start < w.end) and not (w.start < clip.end < w.end)


def test_durations_within_configured_bounds(three_topics: Transcript) -> None:
    cfg = RankerConfig(min_seconds=20, target_seconds=30, max_seconds=40)
    result = rank_transcript(three_topics, config=cfg)
    assert result.clips
    for clip in result.clips:
        assert 20 - 1e-6 <= clip.end - clip.start <= 40 + 1e-6


def test_three_topics_are_found_and_never_straddled(three_topics: Transcript) -> None:
    seg = segment_topics(three_topics.sentences)
    true_boundaries = [len(COFFEE), len(COFFEE) + len(SPACE)]
    assert seg.boundaries == true_boundaries
    result = rank_transcript(three_topics)
    assert result.topic_boundaries == true_boundaries
    for clip in result.clips:
        for b in true_boundaries:
            # A clip holding sentences b-1 and b would cross from one topic into the next.
            assert not (clip.first_sentence < b <= clip.last_sentence)
    # Every topic still yields at least one clip.
    assert {c.topic for c in result.clips} == {0, 1, 2}


def test_candidates_respect_topic_ids() -> None:
    t = make_transcript(COFFEE[:6] + FINANCE[:6])
    topic_ids = [0] * 6 + [1] * 6
    for c in generate_candidates(t.sentences, topic_ids, min_seconds=5, max_seconds=90):
        assert topic_ids[c.first_sentence] == topic_ids[c.last_sentence]


def test_sentence_longer_than_max_yields_no_candidate() -> None:
    t = make_transcript([" ".join(["word"] * 300)])
    assert generate_candidates(t.sentences, min_seconds=15, max_seconds=90) == []
    assert rank_transcript(t).clips == []


def test_empty_transcript_ranks_to_nothing() -> None:
    t = Transcript(engine="test", engine_version="0", duration=0, words=[], sentences=[])
    result = rank_transcript(t, video_id="v")
    assert result.clips == [] and result.ranker_version == RankerConfig().version


def test_overlap_ratio_is_relative_to_the_shorter() -> None:
    assert overlap_ratio(0, 10, 5, 25) == 0.5
    assert overlap_ratio(0, 10, 10, 20) == 0.0
    assert overlap_ratio(0, 100, 10, 20) == 1.0


def test_greedy_overlap_keeps_the_better_clip() -> None:
    a = Candidate(0, 3, 0.0, 20.0)
    b = Candidate(1, 4, 8.0, 28.0)  # overlaps a by 12/20 = 60% -> dropped, a scores higher
    c = Candidate(2, 5, 10.0, 30.0)  # overlaps a by 50% exactly -> allowed
    d = Candidate(6, 8, 40.0, 60.0)
    kept = select_non_overlapping([(50.0, b), (70.0, a), (40.0, c), (10.0, d)], max_overlap=0.5)
    assert [k[1] for k in kept] == [a, c, d]
    # The better of two heavily overlapping clips wins whichever comes first in the input.
    kept = select_non_overlapping([(90.0, b), (70.0, a)], max_overlap=0.5)
    assert [k[1] for k in kept] == [b]
    assert len(select_non_overlapping([(1.0, a), (2.0, d)], max_overlap=0.5, limit=1)) == 1


def test_ranked_clips_never_overlap_beyond_limit(three_topics: Transcript) -> None:
    clips = rank_transcript(three_topics, config=RankerConfig(min_seconds=10, target_seconds=20)).clips
    assert len(clips) > 3
    for i, a in enumerate(clips):
        for b in clips[i + 1 :]:
            assert overlap_ratio(a.start, a.end, b.start, b.end) <= 0.5
