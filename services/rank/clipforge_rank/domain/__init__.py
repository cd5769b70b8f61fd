"""The rank service's pure domain core: transcript (+ optional audio) -> ranked clip suggestions.

No Kafka, database or S3 in here; adapters call :func:`rank_transcript` in-process (or off the
event loop) and publish the result as ``clips.ranked``.
"""

from __future__ import annotations

import hashlib
import logging
import uuid
import wave
from pathlib import Path

from clipforge_common.transcript import Transcript
from pydantic import BaseModel, Field

from .candidates import Candidate, generate_candidates, overlap_ratio
from .config import FEATURE_NAMES, FeatureWeights, RankerConfig, TopicConfig
from .features import AudioEnvelope, CandidateFeatures, FeatureExtractor
from .scoring import reasons_for, score, suggest_title
from .topics import SentenceVectorizer, TopicSegmentation, make_vectorizer, segment_topics

__all__ = [
    "CLIP_NAMESPACE",
    "FEATURE_NAMES",
    "Candidate",
    "FeatureWeights",
    "RankResult",
    "RankedClip",
    "RankerConfig",
    "TopicConfig",
    "clip_id_for",
    "rank_transcript",
    "select_non_overlapping",
]

log = logging.getLogger(__name__)

# Fixed namespace for clip ids: uuid5(CLIP_NAMESPACE, "<video>|<start>|<end>|<ranker version>").
CLIP_NAMESPACE = uuid.UUID("6f1c2b0e-8a57-5c1e-9d4a-2f7d3c9b1e60")


class RankedClip(BaseModel):
    """One suggested clip; ``first_sentence``/``last_sentence`` index ``Transcript.sentences``."""

    clip_id: str
    start: float
    end: float
    score: float = Field(ge=0, le=100)
    features: dict[str, float]
    reasons: list[str]
    title: str
    hook: str
    first_sentence: int
    last_sentence: int
    topic: int = 0

    @property
    def duration(self) -> float:
        return self.end - self.start


class RankResult(BaseModel):
    """Clips best first, plus what produced them."""

    ranker_version: str
    video_id: str
    clips: list[RankedClip]
    candidate_count: int = 0
    topic_boundaries: list[int] = Field(default_factory=list, description="sentence indices")
    audio_used: bool = False


def clip_id_for(video_id: str, start: float, end: float, ranker_version: str) -> str:
    """Deterministic clip id so replays and re-ranks with the same version give the same ids."""
    return str(uuid.uuid5(CLIP_NAMESPACE, f"{video_id}|{start:.3f}|{end:.3f}|{ranker_version}"))


def transcript_identity(transcript: Transcript) -> str:
    """``transcript.video_id`` or, failing that, a content hash of the word timings."""
    if transcript.video_id:
        return transcript.video_id
    digest = hashlib.sha256()
    for w in transcript.words:
        digest.update(f"{w.word}\x1f{w.start:.3f}\x1f{w.end:.3f}\x1e".encode())
    return "sha256:" + digest.hexdigest()


def select_non_overlapping(
    items: list[tuple[float, Candidate]], max_overlap: float, limit: int | None = None
) -> list[tuple[float, Candidate]]:
    """Greedy by score: keep a candidate unless it overlaps a kept one by more than ``max_overlap``.

    Overlap is measured against the shorter of the two. Ties go to the earlier, then shorter clip,
    so the outcome is deterministic.
    """
    ordered = sorted(items, key=lambda it: (-it[0], it[1].start, it[1].end))
    kept: list[tuple[float, Candidate]] = []
    for value, cand in ordered:
        if all(overlap_ratio(cand.start, cand.end, k.start, k.end) <= max_overlap for _, k in kept):
            kept.append((value, cand))
            if limit is not None and len(kept) >= limit:
                break
    return kept


def rank_transcript(
    transcript: Transcript,
    *,
    audio_path: str | Path | None = None,
    config: RankerConfig | None = None,
    video_id: str | None = None,
    vectorizer: SentenceVectorizer | None = None,
) -> RankResult:
    """Rank clip candidates of ``transcript``; best first, no two overlapping beyond the limit.

    ``audio_path`` is the 16 kHz mono WAV ingest extracted; without it (or if it cannot be read as
    WAV) loudness dynamics is neutral. ``video_id`` feeds the clip ids (defaults to the transcript's
    own, else a content hash). ``vectorizer`` overrides the configured sentence vectorizer.
    """
    cfg = config or RankerConfig()
    vid = video_id or transcript_identity(transcript)
    sentences = transcript.sentences
    if not sentences:
        return RankResult(ranker_version=cfg.version, video_id=vid, clips=[])

    vec = vectorizer or make_vectorizer(cfg.topics.vectorizer)
    matrix = vec.vectorize([s.text for s in sentences])
    topics: TopicSegmentation = segment_topics(
        sentences,
        config=cfg.topics,
        matrix=matrix,
        # A topic shorter than the shortest clip could never hold a candidate.
        min_topic_seconds=max(cfg.topics.min_topic_seconds, cfg.min_seconds),
    )
    candidates = generate_candidates(
        sentences, topics.topic_ids, min_seconds=cfg.min_seconds, max_seconds=cfg.max_seconds
    )
    if not candidates:
        return RankResult(ranker_version=cfg.version, video_id=vid, clips=[], topic_boundaries=topics.boundaries)

    envelope = None
    if audio_path is not None:
        try:
            envelope = AudioEnvelope.from_wav(
                audio_path, min(c.start for c in candidates), max(c.end for c in candidates)
            )
        except (wave.Error, EOFError) as exc:
            # Audio only sharpens one feature; a bad WAV must not stop ranking.
            log.warning("cannot read audio %s (%s); loudness dynamics will be neutral", audio_path, exc)

    extractor = FeatureExtractor(
        transcript,
        matrix,
        cfg,
        envelope=envelope,
        max_span=max(c.sentence_count for c in candidates),
    )
    feats: dict[Candidate, CandidateFeatures] = {}
    scored: list[tuple[float, Candidate]] = []
    for cand in candidates:
        f = extractor.extract(cand)
        feats[cand] = f
        scored.append((score(f.values, cfg.weights), cand))

    kept = select_non_overlapping(scored, cfg.max_overlap, cfg.max_clips)
    clips: list[RankedClip] = []
    for value, cand in kept:
        f = feats[cand]
        hook = sentences[cand.first_sentence].text.strip()
        clips.append(
            RankedClip(
                clip_id=clip_id_for(vid, cand.start, cand.end, cfg.version),
                start=round(cand.start, 3),
                end=round(cand.end, 3),
                score=value,
                features=f.values,
                reasons=reasons_for(f.values, cfg.weights, f.hook_cues),
                title=suggest_title(hook),
                hook=hook,
                first_sentence=cand.first_sentence,
                last_sentence=cand.last_sentence,
                topic=cand.topic,
            )
        )
    return RankResult(
        ranker_version=cfg.version,
        video_id=vid,
        clips=clips,
        candidate_count=len(candidates),
        topic_boundaries=topics.boundaries,
        audio_used=envelope is not None,
    )
