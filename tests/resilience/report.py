"""The resilience scoreboard: every scenario records its trials, and pytest prints one table at the end.

Rows are appended as JSON lines to ``$CLIPFORGE_RESILIENCE_REPORT`` (default
``.clipforge/resilience-report.jsonl`` under the repository), so a CI log and a local run both show
scenario, trials, passed, events lost and duplicates, plus the seeds needed to replay a failure.
"""

from __future__ import annotations

import json
import os
import time
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any

REPO = Path(__file__).resolve().parents[2]


def report_path() -> Path:
    return Path(os.environ.get("CLIPFORGE_RESILIENCE_REPORT", REPO / ".clipforge" / "resilience-report.jsonl"))


@dataclass
class ScenarioResult:
    scenario: str
    trials: int = 0
    passed: int = 0
    lost: int = 0
    duplicates: int = 0
    details: list[dict[str, Any]] = field(default_factory=list)

    def trial(self, ok: bool, *, lost: int = 0, duplicates: int = 0, **detail: Any) -> None:
        """Count one trial; ``detail`` (seed, victim, timings…) goes into the JSON line."""
        self.trials += 1
        self.passed += int(ok)
        self.lost += lost
        self.duplicates += duplicates
        self.details.append({"ok": ok, "lost": lost, "duplicates": duplicates, **detail})

    def save(self) -> None:
        path = report_path()
        path.parent.mkdir(parents=True, exist_ok=True)
        with path.open("a") as out:
            out.write(json.dumps({"at": time.time(), **asdict(self)}, default=str) + "\n")


def read_rows(since: float = 0.0) -> list[dict[str, Any]]:
    path = report_path()
    if not path.exists():
        return []
    rows = [json.loads(line) for line in path.read_text().splitlines() if line.strip()]
    return [r for r in rows if r.get("at", 0) >= since]


def table(rows: list[dict[str, Any]]) -> str:
    """One line per scenario (rows of the same scenario, e.g. one per test case, are summed)."""
    totals: dict[str, list[int]] = {}
    for row in rows:
        sums = totals.setdefault(row["scenario"], [0, 0, 0, 0])
        for i, name in enumerate(("trials", "passed", "lost", "duplicates")):
            sums[i] += int(row[name])
    lines = ["| scenario | trials | passed | events lost | duplicates |", "|---|---|---|---|---|"]
    lines += [f"| {name} | {t} | {p} | {lost} | {dup} |" for name, (t, p, lost, dup) in totals.items()]
    return "\n".join(lines)
