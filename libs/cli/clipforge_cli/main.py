"""The `clipforge` command."""

from __future__ import annotations

import typer

from clipforge_cli import clip_cmd, dlq_cmd, replay_cmd, services_cmd, stack_cmd

app = typer.Typer(help="ClipForge: long talking videos in, ranked captioned clips out.", no_args_is_help=True)


@app.callback()
def _quiet_library_logs() -> None:
    """The CLI talks to people: library logs go to stderr and only when they matter."""
    import logging
    import sys

    import structlog

    structlog.configure(
        wrapper_class=structlog.make_filtering_bound_logger(logging.WARNING),
        # sys.stderr looked up per logger, not once: a captured stream (CliRunner, pytest) is
        # closed after the command, and background tasks that log later must not write to it.
        logger_factory=lambda *_args: structlog.PrintLogger(file=sys.stderr),
    )


app.add_typer(stack_cmd.app, name="stack")
services_cmd.register(app)
clip_cmd.register(app)
dlq_cmd.register(app)
replay_cmd.register(app)

keys = typer.Typer(help="API keys of the local gateway.", no_args_is_help=True)
app.add_typer(keys, name="keys")


@keys.command("create")
def keys_create(tenant: str = typer.Option(..., "--tenant", help="tenant name (created if new)")) -> None:
    """Create an API key for TENANT and print it once (only its hash is stored)."""
    import asyncio

    from clipforge_common.settings import get_settings

    from clipforge_cli.remote_clip import create_key

    typer.echo(asyncio.run(create_key(get_settings(), tenant)))


if __name__ == "__main__":
    app()
