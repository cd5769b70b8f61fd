"""The transcript document: what transcribe stores in S3 and rank, render and the gateway read.

It is a claim-checked blob (``transcripts/<video_id>.json``), not an event, so it lives here as the one
shared model every service parses.
"""

from __future__ import annotations

from pydantic import BaseModel, Field


class Word(BaseModel):
    word: str
    start: float = Field(ge=0, description="seconds from the start of the media")
    end: float = Field(ge=0)
    confidence: float = Field(default=1.0, ge=0, le=1)


class Sentence(BaseModel):
    text: str
    start: float = Field(ge=0)
    end: float = Field(ge=0)
    # Indices into Transcript.words: words[first_word:last_word + 1] belong to this sentence.
    first_word: int = Field(ge=0)
    last_word: int = Field(ge=0)


class Transcript(BaseModel):
    video_id: str | None = None
    language: str = "en"
    engine: str
    engine_version: str
    duration: float = Field(ge=0)
    words: list[Word]
    sentences: list[Sentence]

    def words_between(self, start: float, end: float) -> list[Word]:
        """Words that lie wholly inside [start, end]."""
        return [w for w in self.words if w.start >= start - 1e-6 and w.end <= end + 1e-6]
