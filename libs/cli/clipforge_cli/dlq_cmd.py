"""`clipforge dlq list|redrive`: see what consumers gave up on and send it back once fixed.

A thin adapter over :mod:`clipforge_common.dlq`, which holds the logic and the redrive bookkeeping.
"""

from __future__ import annotations

import json
from collections.abc import Coroutine
from typing import Any, TypeVar

import typer

from clipforge_cli.run import EXIT_FAILED, EXIT_USAGE, run_or_exit

T = TypeVar("T")

# Exit codes: 1 = the operation failed (broker unreachable, ledger full), 2 = bad usage (unknown topic).


def _run(job: Coroutine[Any, Any, T]) -> T:
    from clipforge_common.dlq import DlqError, UnknownTopicError

    return run_or_exit(job, [(UnknownTopicError, EXIT_USAGE), (DlqError, EXIT_FAILED)])


def _short(text: str | None, width: int) -> str:
    text = (text or "-").replace("\n", " ")
    return text if len(text) <= width else text[: width - 1] + "…"


def _print_letters(letters: list[Any], show_redriven: bool) -> None:
    if not letters:
        typer.echo("no dead letters" if show_redriven else "no dead letters waiting (--all shows redriven ones too)")
        return
    columns = ["DEAD LETTER (topic:partition:offset)", "REASON", "GROUP", "TRIES", "EVENT", "FAILED AT", "ERROR"]
    rows = [
        [
            letter.location + (" (redriven)" if letter.redriven else ""),
            letter.reason or "-",
            letter.consumer_group or "-",
            str(letter.attempts or "-"),
            f"{letter.event_type or '?'} {letter.event_id or '-'}",
            letter.failed_at.strftime("%Y-%m-%d %H:%M:%S") if letter.failed_at else "-",
            _short(letter.error, 60),
        ]
        for letter in letters
    ]
    widths = [max(len(row[i]) for row in [columns, *rows]) for i in range(len(columns) - 1)]
    for row in [columns, *rows]:
        typer.echo("  ".join(cell.ljust(width) for cell, width in zip(row, widths, strict=False)) + "  " + row[-1])
    typer.echo(f"{len(letters)} dead letter(s)")


def register(app: typer.Typer) -> None:
    """Add the `dlq` command group to the root CLI."""
    group = typer.Typer(help="Dead letters: list them, redrive them to their topic once fixed.", no_args_is_help=True)
    app.add_typer(group, name="dlq")

    @group.command("list")
    def list_cmd(
        topic: str | None = typer.Option(None, "--topic", help="a topic or its .dlq (default: every DLQ topic)"),
        show_all: bool = typer.Option(False, "--all", help="include dead letters already redriven"),
        reason: str | None = typer.Option(None, "--reason", help="only this cf-dlq-reason"),
        event_id: str | None = typer.Option(None, "--event-id", help="only this event"),
        consumer_group: str | None = typer.Option(None, "--group", help="only those this consumer group gave up on"),
        limit: int | None = typer.Option(None, "--limit", min=0, help="only the N most recent"),
        json_out: bool = typer.Option(False, "--json", help="machine-readable output"),
    ) -> None:
        """List dead letters waiting for a redrive, oldest first."""
        from clipforge_common.dlq import DeadLetterFilter, list_dead_letters
        from clipforge_common.settings import get_settings

        where = DeadLetterFilter(reason=reason, event_id=event_id, consumer_group=consumer_group)
        letters = _run(list_dead_letters(get_settings(), topic, include_redriven=show_all, where=where, limit=limit))
        if json_out:
            payload = {"count": len(letters), "dead_letters": [d.model_dump(mode="json") for d in letters]}
            typer.echo(json.dumps(payload, indent=2))
        else:
            _print_letters(letters, show_all)

    @group.command("redrive")
    def redrive_cmd(
        topic: str = typer.Argument(..., help="the original topic or its .dlq"),
        reason: str | None = typer.Option(None, "--reason", help="only dead letters with this cf-dlq-reason"),
        event_id: str | None = typer.Option(None, "--event-id", help="only this event"),
        consumer_group: str | None = typer.Option(None, "--group", help="only those this consumer group gave up on"),
        dry_run: bool = typer.Option(False, "--dry-run", help="show what would be republished, change nothing"),
        json_out: bool = typer.Option(False, "--json", help="machine-readable output"),
    ) -> None:
        """Republish waiting dead letters of TOPIC and mark them redriven (running it again republishes nothing).

        Each record goes back with its original key, value and headers, plus cf-redriven-from/-at.
        """
        from clipforge_common.dlq import DeadLetterFilter, redrive
        from clipforge_common.settings import get_settings

        where = DeadLetterFilter(reason=reason, event_id=event_id, consumer_group=consumer_group)
        result = _run(redrive(get_settings(), topic, where=where, dry_run=dry_run))
        if json_out:
            typer.echo(json.dumps(result.model_dump(mode="json"), indent=2))
            return
        verb = "would republish" if dry_run else "republished"
        for record in result.republished:
            where_to = (
                f"{record.topic}:{record.partition}:{record.offset}" if record.offset is not None else record.topic
            )
            typer.echo(
                f"{verb} {record.event_type or '?'} {record.event_id or '(no event id)'} ({record.reason}) "
                f"from {', '.join(record.redriven_from)} to {where_to}"
            )
        summary = "would be republished" if dry_run else "republished"
        typer.echo(f"{len(result.republished)} record(s) {summary} to {result.target_topic}")
