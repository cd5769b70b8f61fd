"""The `clipforge` command."""

from __future__ import annotations

import typer

from clipforge_cli import clip_cmd, services_cmd, stack_cmd

app = typer.Typer(help="ClipForge: long talking videos in, ranked captioned clips out.", no_args_is_help=True)
app.add_typer(stack_cmd.app, name="stack")
services_cmd.register(app)
clip_cmd.register(app)

if __name__ == "__main__":
    app()
