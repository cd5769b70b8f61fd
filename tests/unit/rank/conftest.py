"""Fixtures for the ranker's unit tests."""

from __future__ import annotations

import pytest
from clipforge_common.transcript import Transcript

from tests.unit.rank.rank_samples import COFFEE, FINANCE, SPACE, make_transcript


@pytest.fixture
def three_topics() -> Transcript:
    return make_transcript(COFFEE + SPACE + FINANCE)
