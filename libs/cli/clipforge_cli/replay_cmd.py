"""`clipforge replay history|rebuild|switch|status|drop|rerank`: replay the topics, the system of record.

A thin adapter: the history and re-rank logic is in :mod:`clipforge_common.replay`, the gateway
projection versions in :mod:`clipforge_gateway.projections.operations` (both callable in-process).
"""

from __future__ import annotations

import json
import os
from collections.abc import Coroutine
from typing import Any, TypeVar

import typer

from clipforge_cli.run import EXIT_FAILED, run_or_exit

T = TypeVar("T")


_DATABASE_HELP = "the gateway's PostgreSQL database"
_GROUP_HELP = "the gateway projector's consumer group (version 0); env CLIPFORGE_GATEWAY_GROUP_ID"
_NAMESPACE_HELP = "the gateway's Redis namespace (version 0); env CLIPFORGE_GATEWAY_REDIS_NAMESPACE"


def _run(job: Coroutine[Any, Any, T]) -> T:
    from clipforge_gateway.projections.versions import ProjectionError

    return run_or_exit(job, [(ProjectionError, EXIT_FAILED)])


def _deployment(database: str | None, group: str | None, namespace: str | None) -> Any:
    from clipforge_common.settings import get_settings
    from clipforge_gateway.config import GatewayConfig
    from clipforge_gateway.projections.operations import Deployment

    config = GatewayConfig()
    return Deployment(
        database=database or os.environ.get("CLIPFORGE_GATEWAY_DATABASE") or get_settings().database_for("gateway"),
        base_group=group or config.group_id or "clipforge.gateway",
        base_namespace=config.redis_namespace if namespace is None else namespace,
    )


def _table(rows: list[list[str]], columns: list[str]) -> None:
    widths = [max(len(c), *(len(r[i]) for r in rows)) for i, c in enumerate(columns)]
    typer.echo("  ".join(c.ljust(w) for c, w in zip(columns, widths, strict=True)).rstrip())
    for row in rows:
        typer.echo("  ".join(v.ljust(w) for v, w in zip(row, widths, strict=True)).rstrip())


def register(app: typer.Typer) -> None:
    """Add the `replay` command group to the root CLI."""
    group = typer.Typer(
        help="Replay the event topics: a video's history, rebuild the gateway's projection, re-rank.",
        no_args_is_help=True,
    )
    app.add_typer(group, name="replay")

    @group.command("history")
    def history(
        video_id: str = typer.Argument(..., help="the video (the key of all its events)"),
        as_json: bool = typer.Option(False, "--json", help="one JSON document (every field and the payloads)"),
        progress: bool = typer.Option(False, "--progress", help="also pipeline.progress (kept for hours only)"),
        dlq: bool = typer.Option(False, "--dlq", help="also the video's dead letters"),
    ) -> None:
        """Every event of VIDEO_ID across the domain topics, in the order they happened."""
        from clipforge_common.replay import video_history
        from clipforge_common.settings import get_settings

        entries = _run(video_history(get_settings(), video_id, include_progress=progress, include_dlq=dlq))
        if not entries:
            typer.echo(f"error: no events found for video {video_id}", err=True)
            raise typer.Exit(EXIT_FAILED)
        if as_json:
            typer.echo(json.dumps([e.model_dump(mode="json") for e in entries], indent=2))
            return
        rows = [
            [
                e.occurred_at.strftime("%Y-%m-%d %H:%M:%S.%f")[:-3],
                f"{e.topic}[{e.partition}]@{e.offset}",
                f"{e.event_type} v{e.event_version}",
                e.event_id,
                e.producer,
                e.summary,
            ]
            for e in entries
        ]
        typer.echo(f"video {video_id} (tenant {entries[0].tenant_id}): {len(entries)} events")
        _table(rows, ["OCCURRED AT (UTC)", "TOPIC[PARTITION]@OFFSET", "EVENT", "EVENT ID", "PRODUCER", "SUMMARY"])

    @group.command("rebuild")
    def rebuild(
        version: int | None = typer.Option(None, "--version", min=1, help="version to build (default: next free)"),
        switch: bool = typer.Option(True, "--switch/--no-switch", help="point the gateway's reads at it when built"),
        tenant: list[str] = typer.Option([], "--tenant", help="only these tenants (a gateway dedicated to them)"),
        database: str | None = typer.Option(None, "--database", help=_DATABASE_HELP),
        base_group: str | None = typer.Option(None, "--group", help=_GROUP_HELP),
        namespace: str | None = typer.Option(None, "--namespace", help=_NAMESPACE_HELP),
    ) -> None:
        """Rebuild the gateway's read model from the topics' beginning into a new version, then switch reads.

        The version gets schema projection_v<N> in the gateway's database, consumer group
        <group>.v<N> and Redis namespace <namespace>v<N>:. Running gateway replicas follow the
        switch within seconds, without a restart; the previous version is kept (see `drop`).
        """
        from clipforge_common.settings import get_settings
        from clipforge_gateway.projections import operations

        deployment = _deployment(database, base_group, namespace)

        def started(target: Any, resumed: bool) -> None:
            verb = "resuming" if resumed else "building"
            typer.echo(
                f"{verb} projection v{target.version}: schema {target.schema_name} in {deployment.database}, "
                f"group {target.group_id}, Redis namespace {target.namespace!r}"
            )

        def progress(p: Any) -> None:
            done = ", ".join(f"{k} {v}" for k, v in sorted(p.outcomes.items())) or "nothing yet"
            typer.echo(f"  {p.elapsed_seconds:7.1f} s  lag {p.lag} ({p.partitions_behind} partitions behind); {done}")

        result = _run(
            operations.rebuild(
                get_settings(), deployment, version=version, tenants=tenant, switch=switch, on_start=started,
                on_progress=progress,
            )
        )  # fmt: skip
        target = result.target
        typer.echo(f"projection v{target.version} caught up (lag 0 on every partition)")
        if result.switched:
            typer.echo(
                f"reads switched: v{result.previous_version} -> v{target.version}. Gateway replicas follow within "
                "CLIPFORGE_GATEWAY_PROJECTION_POLL_SECONDS (2 s); those running the projector keep v"
                f"{target.version} up to date."
            )
            typer.echo(
                f"switch back: clipforge replay switch --version {result.previous_version}; "
                f"drop the old one: clipforge replay drop --version {result.previous_version}"
                if result.previous_version
                else f"switch back: clipforge replay switch --version {result.previous_version}"
            )
        else:
            typer.echo(f"not switched; when ready: clipforge replay switch --version {target.version}")

    @group.command("switch")
    def switch_cmd(
        version: int = typer.Option(..., "--version", min=0, help="version to read (0: the original tables)"),
        database: str | None = typer.Option(None, "--database", help=_DATABASE_HELP),
        base_group: str | None = typer.Option(None, "--group", help=_GROUP_HELP),
        namespace: str | None = typer.Option(None, "--namespace", help=_NAMESPACE_HELP),
    ) -> None:
        """Point every gateway replica's reads at a built VERSION (they follow without a restart)."""
        from clipforge_common.settings import get_settings
        from clipforge_gateway.projections import operations

        deployment = _deployment(database, base_group, namespace)
        target, previous = _run(operations.switch_to(get_settings(), deployment, version))
        if previous == target.version:
            typer.echo(f"already reading v{target.version}")
        else:
            typer.echo(f"reads switched: v{previous} -> v{target.version} ({target.schema_name}, {target.namespace!r})")

    @group.command("status")
    def status_cmd(
        as_json: bool = typer.Option(False, "--json"),
        database: str | None = typer.Option(None, "--database", help=_DATABASE_HELP),
        base_group: str | None = typer.Option(None, "--group", help=_GROUP_HELP),
        namespace: str | None = typer.Option(None, "--namespace", help=_NAMESPACE_HELP),
    ) -> None:
        """Which projection version the gateway reads, and every version built."""
        from clipforge_common.settings import get_settings
        from clipforge_gateway.projections import operations

        deployment = _deployment(database, base_group, namespace)
        active, infos = _run(operations.status(get_settings(), deployment))
        if as_json:
            doc = {"active_version": active, "projections": [i.model_dump(mode="json") for i in infos]}
            typer.echo(json.dumps(doc, indent=2))
            return
        base = deployment.target(0)
        rows = [["0", "ready", "public", base.group_id, repr(base.namespace), "all", "*" if active == 0 else ""]]
        rows += [
            [
                str(i.target.version),
                i.status,
                i.target.schema_name,
                i.target.group_id,
                repr(i.target.namespace),
                ",".join(i.tenants) or "all",
                "*" if i.active else "",
            ]
            for i in infos
        ]
        _table(rows, ["VERSION", "STATUS", "SCHEMA", "GROUP", "NAMESPACE", "TENANTS", "READ"])

    @group.command("drop")
    def drop_cmd(
        version: int = typer.Option(..., "--version", min=1, help="a version that is not being read"),
        database: str | None = typer.Option(None, "--database", help=_DATABASE_HELP),
        base_group: str | None = typer.Option(None, "--group", help=_GROUP_HELP),
        namespace: str | None = typer.Option(None, "--namespace", help=_NAMESPACE_HELP),
    ) -> None:
        """Drop a projection version: its schema, inbox marks and cached views (never the one being read)."""
        from clipforge_common.settings import get_settings
        from clipforge_gateway.projections import operations

        deployment = _deployment(database, base_group, namespace)
        target, removed = _run(operations.drop(get_settings(), deployment, version))
        typer.echo(f"dropped projection v{target.version}: schema {target.schema_name}, {removed} Redis keys")

    @group.command("rerank")
    def rerank(
        tenant: list[str] = typer.Option([], "--tenant", help="only this tenant's videos (repeatable)"),
        video: list[str] = typer.Option([], "--video", help="only these videos (repeatable)"),
        ranker_version: str | None = typer.Option(None, "--ranker-version", help="ranker to use (default: rank's)"),
        setting: list[str] = typer.Option([], "--setting", help="ranker setting override KEY=JSON (repeatable)"),
        dry_run: bool = typer.Option(False, "--dry-run", help="list what would be requested, publish nothing"),
        operator: str | None = typer.Option(None, "--operator", help="who asks (default: the login name)"),
        as_json: bool = typer.Option(False, "--json"),
    ) -> None:
        """Re-rank transcribed videos: one rank.requested per video, one correlation id for the run.

        Videos are found by scanning transcript.completed (minus video.deleted) in Kafka, the system
        of record, so every transcribed video counts whether or not a projection is up to date.
        """
        from clipforge_common.replay import operator_producer
        from clipforge_common.replay import rerank as do_rerank
        from clipforge_common.settings import get_settings

        overrides: dict[str, Any] = {}
        for item in setting:
            key, sep, raw = item.partition("=")
            if not sep or not key:
                typer.echo(f"error: --setting {item!r}: expected KEY=VALUE", err=True)
                raise typer.Exit(2)
            try:
                overrides[key] = json.loads(raw)
            except ValueError:
                overrides[key] = raw
        report = _run(
            do_rerank(
                get_settings(),
                tenants=tenant,
                video_ids=video,
                ranker_version=ranker_version,
                ranker_settings=overrides,
                dry_run=dry_run,
                producer=operator_producer(operator),
            )
        )
        if as_json:
            typer.echo(report.model_dump_json(indent=2))
        else:
            for target in report.requested:
                typer.echo(f"  {target.tenant_id}  {target.video_id}")
            verb = "would request" if dry_run else "requested"
            ranker = ranker_version or "the rank service's default ranker"
            typer.echo(
                f"{verb} re-ranking of {len(report.requested)} videos with {ranker} "
                f"(correlation id {report.correlation_id}, producer {report.producer})"
            )
            for missing in report.not_found:
                typer.echo(f"  not found (no transcript, or deleted): {missing}", err=True)
        if video and report.not_found and not report.requested:
            raise typer.Exit(EXIT_FAILED)
