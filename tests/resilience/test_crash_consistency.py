"""kill -9 of a service at a random moment while three videos flow through: nothing lost, nothing doubled.

Each trial submits three videos, SIGKILLs one service (its whole process group, ffmpeg included) at
a random moment of the pipeline's run and starts it again. Then every stage's events are counted by
event id and by business key — one ``video.ingested``, ``transcript.completed`` and ``clips.ranked``
per video, one ``clip.rendered`` per (clip, preset) — and no job, lease or outbox row may be left
behind, and the gateway's read model must show every render once.

The victims cycle through all five services in a seeded order. A fault-free batch first measures
when each service is busy on this machine (ingest until the last ``video.ingested``, transcribe from
the first ``video.ingested`` to the last transcript, and so on), and each kill lands at a seeded
point of its victim's busy window, so it meets work in flight. The kill moments are seeded too:
``CLIPFORGE_RESILIENCE_SEED=<seed>`` replays a run (the seed is printed and in the scoreboard), and
``CLIPFORGE_RESILIENCE_TRIALS`` sets the number of trials (default 10, two per service).
"""

from __future__ import annotations

import asyncio
import os
import random
from collections.abc import Callable
from datetime import UTC, datetime

import pytest
from clipforge_common.envelope import Envelope
from clipforge_common.settings import SERVICES, Settings

from tests.resilience.platform import Platform
from tests.resilience.report import ScenarioResult

pytestmark = pytest.mark.slow


# Each service is busy between these events of a batch (None: from the submission).
BUSY_BETWEEN: dict[str, tuple[str | None, str]] = {
    "ingest": (None, "video.ingested"),
    "transcribe": ("video.ingested", "transcript.completed"),
    "rank": ("transcript.completed", "clips.ranked"),
    "render": ("clips.ranked", "clip.rendered"),
    "gateway": (None, "clip.rendered"),  # it projects every stage
}


def busy_windows(events: list[Envelope], videos: list[str], submitted: datetime) -> dict[str, tuple[float, float]]:
    """Seconds after submission from the first event that gives a service work to its last answer."""

    def at(event_type: str, pick: Callable[[list[float]], float]) -> float:
        return pick(
            [
                (e.occurred_at - submitted).total_seconds()
                for e in events
                if e.event_type == event_type and e.video_id in videos
            ]
        )

    return {
        name: (0.0 if start is None else max(0.0, at(start, min)), at(end, max))
        for name, (start, end) in BUSY_BETWEEN.items()
    }


def plan_trials(seed: int, trials: int) -> list[tuple[str, float, float]]:
    """(victim, kill moment as a fraction of its busy window, pause before restart in s) per trial."""
    rng = random.Random(seed)
    victims: list[str] = []
    while len(victims) < trials:
        cycle = list(SERVICES)
        rng.shuffle(cycle)
        victims += cycle
    return [(v, rng.uniform(0.1, 0.9), rng.uniform(0.0, 2.0)) for v in victims[:trials]]


async def test_kill_any_service_mid_pipeline_loses_and_doubles_nothing(stack: Settings, tmp_path) -> None:
    seed = int(os.environ.get("CLIPFORGE_RESILIENCE_SEED") or random.SystemRandom().randrange(1, 10**9))
    trials = int(os.environ.get("CLIPFORGE_RESILIENCE_TRIALS") or 10)
    print(f"crash consistency: CLIPFORGE_RESILIENCE_SEED={seed} CLIPFORGE_RESILIENCE_TRIALS={trials}")
    result = ScenarioResult("kill -9 of a service mid-pipeline (3 videos per trial)")
    platform = await Platform(stack, tmp_path).start()
    try:
        # A fault-free batch first: when each service is busy, on this machine and under this load.
        submitted = datetime.now(UTC)
        baseline_videos = await platform.submit(3)
        await platform.wait_done(baseline_videos)
        audit = await platform.audit(baseline_videos)
        assert audit.ok, f"fault-free batch: {audit.summary()}"
        assert platform.events is not None
        windows = busy_windows(platform.events.events, baseline_videos, submitted)
        print(
            "fault-free batch of 3 videos, busy windows (s): "
            + str({k: (round(a, 1), round(b, 1)) for k, (a, b) in windows.items()})
        )

        for index, (victim, fraction, pause) in enumerate(plan_trials(seed, trials)):
            service = platform.services[victim]
            begin, end = windows[victim]
            kill_after = begin + fraction * (end - begin)
            videos = await platform.submit(3)
            await asyncio.sleep(kill_after)
            running = await service.fetch("SELECT count(*) AS n FROM jobs WHERE status = 'running'")
            service.kill9()
            await asyncio.sleep(pause)
            service.start()
            await service.wait_ready()
            await platform.wait_done(videos)
            audit = await platform.audit(videos)
            detail = {
                "seed": seed,
                "trial": index,
                "victim": victim,
                "kill_after_s": round(kill_after, 2),
                "jobs_running_at_kill": int(running[0]["n"]),
                **audit.summary(),  # lost and duplicates are counted by the scoreboard
            }
            print(f"trial {index}: {detail}")
            result.trial(audit.ok, **detail)
    finally:
        result.save()
        await platform.stop()
    failed = [d for d in result.details if not d["ok"]]
    assert result.trials == trials and not failed, f"seed {seed}: failed trials {failed}"
    assert {d["victim"] for d in result.details} >= set(SERVICES) or trials < len(SERVICES)
