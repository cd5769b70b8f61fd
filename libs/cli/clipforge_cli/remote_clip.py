"""`clipforge clip` through the platform: upload via the gateway, follow progress, download clips."""

from __future__ import annotations

from pathlib import Path

import typer


def clip_through_gateway(source: str, out: Path, *, top: int, preset: str) -> None:
    typer.echo(
        "error: clipping through the services needs the gateway API, which is not built yet; "
        "run `clipforge clip --local FILE` meanwhile",
        err=True,
    )
    raise typer.Exit(2)
