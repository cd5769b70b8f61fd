"""Resilience scenarios: faults injected into the real stack and services, results in one table."""

from __future__ import annotations

import time

import pytest

from tests.resilience.report import read_rows, table

_SESSION_STARTED = time.time()


def pytest_terminal_summary(terminalreporter: pytest.TerminalReporter) -> None:
    rows = read_rows(since=_SESSION_STARTED)
    if rows:
        terminalreporter.write_sep("=", "resilience scoreboard")
        terminalreporter.write_line(table(rows))
