"""`clipforge dlq ...` (being built)."""

from __future__ import annotations

import typer


def register(app: typer.Typer) -> None:
    """Add the `dlq` command group to the root CLI."""
    group = typer.Typer(help="dlq (being built)", no_args_is_help=True)
    app.add_typer(group, name="dlq")
