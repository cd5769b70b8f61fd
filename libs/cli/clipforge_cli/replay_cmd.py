"""`clipforge replay ...` (being built)."""

from __future__ import annotations

import typer


def register(app: typer.Typer) -> None:
    """Add the `replay` command group to the root CLI."""
    group = typer.Typer(help="replay (being built)", no_args_is_help=True)
    app.add_typer(group, name="replay")
