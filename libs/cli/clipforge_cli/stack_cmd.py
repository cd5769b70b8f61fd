"""`clipforge stack up|down|status`: the native infrastructure on loopback."""

from __future__ import annotations

import json

import typer
from clipforge_common.stack import Health, Stack, StackError

app = typer.Typer(help="Start, stop and inspect the local Kafka, PostgreSQL, Redis and S3 stack.", no_args_is_help=True)


def _print_table(healths: list[Health]) -> None:
    for h in healths:
        mark = "healthy" if h.healthy else "DOWN"
        owner = f"started by stack (pid {','.join(map(str, h.pids))})" if h.managed else "external or not running"
        typer.echo(f"{h.name:<9} {mark:<8} {h.endpoint:<32} {owner}  {h.detail}")


@app.command()
def up(
    brokers: int = typer.Option(1, min=1, max=3, help="Kafka brokers: 1, or 3 for failover tests"),
    json_out: bool = typer.Option(False, "--json", help="print the final status as JSON"),
) -> None:
    """Start every component that is not already healthy (idempotent)."""
    stack = Stack.from_settings(brokers=brokers)
    try:
        healths = stack.up(progress=(lambda _m: None) if json_out else typer.echo)
    except StackError as exc:
        typer.echo(f"error: {exc}", err=True)
        raise typer.Exit(1) from exc
    _emit(healths, json_out)


@app.command()
def down(
    purge: bool = typer.Option(False, "--purge", help="also delete the stack's data (topics, databases, objects)"),
) -> None:
    """Stop only the processes this stack started."""
    Stack.from_settings().down(progress=typer.echo, purge=purge)


@app.command()
def status(json_out: bool = typer.Option(False, "--json", help="machine-readable output")) -> None:
    """Show every component, its endpoint and health; exit 1 when any is unhealthy."""
    healths = Stack.from_settings().status()
    _emit(healths, json_out)
    if not all(h.healthy for h in healths):
        raise typer.Exit(1)


def _emit(healths: list[Health], json_out: bool) -> None:
    if json_out:
        payload = {"healthy": all(h.healthy for h in healths), "components": [h.as_dict() for h in healths]}
        typer.echo(json.dumps(payload, indent=2))
    else:
        _print_table(healths)
