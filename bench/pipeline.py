"""Wall time of the distributed pipeline against the same domain cores in one process.

Both sides run the user's command on the same ~5-minute synthesized talk in the same run:
`clipforge clip FILE` (upload → ingest → transcribe → rank → render through Kafka, PostgreSQL, S3
and the gateway; services already running and warm) and `clipforge clip --local FILE`. Prints each
run, the medians and their ratio (target ≤ 1.25).

    python bench/pipeline.py [--runs 1] [--seconds 300] [--top 3]
"""

from __future__ import annotations

import argparse
import asyncio
import os
import statistics
import subprocess
import sys
import tempfile
import time
import uuid
from pathlib import Path

from clipforge_cli.remote_clip import create_key
from clipforge_cli.services_cmd import services_running, start_services, stop_services
from clipforge_common.ffmpeg import ffprobe
from clipforge_common.sample_media import cached_talk, talk_for_seconds
from clipforge_common.settings import get_settings


def talk_of(seconds: float) -> Path:
    """About ``seconds`` of talk: the built-in material (~3 min), repeated as needed."""
    plan = talk_for_seconds(seconds)
    sentences = list(plan.sentences)
    breaks = list(plan.paragraph_breaks)
    per_sentence = plan.estimated_seconds() / len(sentences)
    while len(sentences) * per_sentence < seconds:
        breaks.append(len(sentences))
        sentences.extend(plan.sentences[: max(1, int((seconds - len(sentences) * per_sentence) / per_sentence) + 1)])
    path, _script = cached_talk(sentences, paragraph_breaks=tuple(sorted(set(breaks))))
    return path


def timed(argv: list[str], env: dict[str, str]) -> float:
    started = time.perf_counter()
    proc = subprocess.run(argv, env=env, capture_output=True, text=True, check=False)
    elapsed = time.perf_counter() - started
    if proc.returncode != 0:
        sys.exit(f"{' '.join(argv[3:])} failed:\n{proc.stderr[-2000:]}")
    return elapsed


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--runs", type=int, default=1)
    parser.add_argument("--seconds", type=float, default=300.0)
    parser.add_argument("--top", type=int, default=3)
    args = parser.parse_args()

    settings = get_settings()
    talk = talk_of(args.seconds)
    duration = float(ffprobe(talk)["format"]["duration"])
    print(f"talk: {talk.name}, {duration:.0f} s; rendering the top {args.top} clips (vertical)")
    already_running = services_running(settings)
    start_services(settings, echo=lambda _m: None)
    env = {**os.environ, "CLIPFORGE_API_KEY": asyncio.run(create_key(settings, f"bench-{uuid.uuid4().hex[:6]}"))}
    cli = [sys.executable, "-m", "clipforge_cli.main", "clip"]

    local: list[float] = []
    distributed: list[float] = []
    with tempfile.TemporaryDirectory() as tmp:
        for run in range(args.runs):
            # Alternate the order so neither side always runs on a warmer page cache.
            order = ("local", "distributed") if run % 2 == 0 else ("distributed", "local")
            for side in order:
                out = Path(tmp) / f"{side}-{run}"
                extra = ["--local"] if side == "local" else []
                seconds = timed([*cli, *extra, str(talk), "--top", str(args.top), "--out", str(out)], env)
                (local if side == "local" else distributed).append(seconds)
                print(f"run {run + 1} {side:<11} {seconds:7.1f} s  (real-time factor {seconds / duration:.2f})")

    if not already_running:
        stop_services(settings)  # leave the machine as we found it
    base, dist = statistics.median(local), statistics.median(distributed)
    print()
    print(f"{'':<28}{'median s':>10}")
    print(f"{'clipforge clip --local':<28}{base:>10.1f}")
    print(f"{'clipforge clip (services)':<28}{dist:>10.1f}")
    print(f"ratio distributed / local: {dist / base:.3f}  (target <= 1.25)")


if __name__ == "__main__":
    main()
