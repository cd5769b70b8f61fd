"""Terminal output shared by the local and the distributed `clipforge clip`: progress bars per
stage, the results table and the files written to the output directory."""

from __future__ import annotations

import json
import re
from pathlib import Path
from typing import Any

from rich.console import Console
from rich.progress import BarColumn, Progress, TaskID, TextColumn, TimeElapsedColumn
from rich.table import Table

STAGES: tuple[str, ...] = ("ingest", "transcribe", "rank", "render")

console = Console(stderr=True)


def slugify(text: str, limit: int = 40) -> str:
    slug = re.sub(r"[^a-z0-9]+", "-", text.lower()).strip("-")
    return (slug[:limit].rstrip("-")) or "clip"


class StageBars:
    """One progress bar per pipeline stage."""

    def __init__(self, progress: Progress) -> None:
        self.progress = progress
        self.tasks: dict[str, TaskID] = {
            stage: progress.add_task(stage, total=100, start=False, note="waiting") for stage in STAGES
        }

    def __call__(self, stage: str, fraction: float, message: str) -> None:
        task = self.tasks.get(stage)
        if task is None:
            return
        self.progress.start_task(task)
        self.progress.update(task, completed=round(100 * min(max(fraction, 0.0), 1.0)), note=message)


def progress_bars() -> Progress:
    return Progress(
        TextColumn("{task.description:<11}"),
        BarColumn(),
        TextColumn("{task.percentage:>3.0f}%"),
        TimeElapsedColumn(),
        TextColumn("{task.fields[note]}"),
        console=console,
    )


def write_outputs(out_dir: Path, clips: list[dict[str, Any]], transcript: dict[str, Any]) -> None:
    """DIR/clips.json (best first) and DIR/transcript.json (words and sentences)."""
    out_dir.mkdir(parents=True, exist_ok=True)
    (out_dir / "clips.json").write_text(json.dumps(clips, indent=2) + "\n")
    (out_dir / "transcript.json").write_text(json.dumps(transcript, indent=2) + "\n")


def print_table(clips: list[dict[str, Any]]) -> None:
    table = Table(title="ClipForge clips")
    for column in ("rank", "score", "start–end", "title", "top reason", "file"):
        table.add_column(column)
    for clip in clips:
        table.add_row(
            str(clip["rank"]),
            f"{clip['score']:.0f}",
            f"{clip['start']:.1f}–{clip['end']:.1f}s",
            clip["title"],
            (clip["reasons"] or [""])[0],
            clip["files"].get("video") or "(not rendered)",
        )
    Console().print(table)
