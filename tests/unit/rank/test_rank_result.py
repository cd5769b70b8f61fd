"""rank_transcript's result: ordering, score range, reasons, titles and stable clip ids."""

from __future__ import annotations

import uuid

from clipforge_common.transcript import Transcript
from clipforge_rank.domain import CLIP_NAMESPACE, RankerConfig, clip_id_for, rank_transcript
from clipforge_rank.domain.scoring import suggest_title


def test_scores_in_range_and_best_first(three_topics: Transcript) -> None:
    clips = rank_transcript(three_topics).clips
    assert clips
    assert all(0 <= c.score <= 100 for c in clips)
    assert [c.score for c in clips] == sorted((c.score for c in clips), reverse=True)
    for c in clips:
        assert c.reasons and len(c.reasons) <= 3
        assert c.hook == three_topics.sentences[c.first_sentence].text
        assert 0 < len(c.title) <= 61


def test_clip_ids_are_deterministic_uuid5(three_topics: Transcript) -> None:
    a = rank_transcript(three_topics, video_id="vid-42")
    b = rank_transcript(three_topics.model_copy(deep=True), video_id="vid-42")
    assert [c.clip_id for c in a.clips] == [c.clip_id for c in b.clips]
    assert a.model_dump() == b.model_dump()
    first = a.clips[0]
    expected = uuid.uuid5(CLIP_NAMESPACE, f"vid-42|{first.start:.3f}|{first.end:.3f}|{a.ranker_version}")
    assert first.clip_id == str(expected) == clip_id_for("vid-42", first.start, first.end, a.ranker_version)
    assert uuid.UUID(first.clip_id).version == 5
    # Another video or another ranker version never reuses an id.
    other = rank_transcript(three_topics, video_id="vid-43")
    assert not {c.clip_id for c in a.clips} & {c.clip_id for c in other.clips}
    v2 = rank_transcript(three_topics, video_id="vid-42", config=RankerConfig(version="tfidf-v2"))
    assert not {c.clip_id for c in a.clips} & {c.clip_id for c in v2.clips}


def test_video_id_defaults_to_transcript_then_content_hash(three_topics: Transcript) -> None:
    assert rank_transcript(three_topics).video_id == three_topics.video_id
    anonymous = three_topics.model_copy(update={"video_id": None})
    one = rank_transcript(anonymous)
    two = rank_transcript(anonymous.model_copy(deep=True))
    assert one.video_id.startswith("sha256:") and one.video_id == two.video_id
    assert [c.clip_id for c in one.clips] == [c.clip_id for c in two.clips]


def test_result_serialises_for_the_event(three_topics: Transcript) -> None:
    data = rank_transcript(three_topics).model_dump(mode="json")
    clip = data["clips"][0]
    for key in ("clip_id", "start", "end", "score", "features", "reasons", "title", "hook"):
        assert key in clip


def test_suggested_titles() -> None:
    assert suggest_title("so, why do most people brew coffee wrong?") == "Why Do Most People Brew Coffee Wrong?"
    assert suggest_title("The NASA rover found water on Mars.") == "The NASA Rover Found Water on Mars"
    long = suggest_title("Investing in index funds spreads your money across hundreds of different stocks.")
    assert long.endswith("…") and len(long) <= 61
    assert not long[:-1].lower().endswith((" the", " of", " across"))
