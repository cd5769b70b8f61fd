"""Running a library coroutine from an operator command: errors become a message and an exit code."""

from __future__ import annotations

import asyncio
from collections.abc import Coroutine, Sequence
from typing import Any, TypeVar

import typer

T = TypeVar("T")

EXIT_FAILED = 1
EXIT_USAGE = 2


def run_or_exit(job: Coroutine[Any, Any, T], known: Sequence[tuple[type[Exception], int]] = ()) -> T:
    """Run ``job``. A ``known`` error prints its message and exits with its code (first match wins);
    anything else (Kafka unreachable and the like) prints its type too and exits 1, never a traceback."""
    try:
        return asyncio.run(job)
    except Exception as exc:
        for kind, code in known:
            if isinstance(exc, kind):
                typer.echo(f"error: {exc}", err=True)
                raise typer.Exit(code) from exc
        typer.echo(f"error: {type(exc).__name__}: {exc}", err=True)
        raise typer.Exit(EXIT_FAILED) from exc
