"""Running the five services locally: `clipforge up|down|ps` and `clipforge service NAME`."""

from __future__ import annotations

import importlib
import sys
import time
from collections.abc import Callable
from pathlib import Path

import httpx
import typer
from clipforge_common.settings import SERVICES, Settings, get_settings
from clipforge_common.stack import Stack, StackError, processes

SUPERVISOR = "services"


def _run_dir(settings: Settings) -> Path:
    return settings.home / "services"


def write_procfile(settings: Settings) -> Path:
    run_dir = _run_dir(settings)
    run_dir.mkdir(parents=True, exist_ok=True)
    procfile = run_dir / "Procfile"
    procfile.write_text("".join(f"{name}: exec {sys.executable} -m clipforge_{name}\n" for name in SERVICES))
    return procfile


def service_health(settings: Settings, name: str, path: str = "/healthz") -> tuple[bool, str]:
    url = f"http://{settings.http_host}:{settings.service_port(name)}{path}"
    try:
        response = httpx.get(url, timeout=2)
        return response.status_code == 200, response.text[:200]
    except httpx.HTTPError as exc:
        return False, type(exc).__name__


def services_running(settings: Settings) -> bool:
    proc = processes.read_process(_run_dir(settings), SUPERVISOR)
    return proc is not None and proc.alive()


def start_services(settings: Settings, *, with_stack: bool = True, echo: Callable[[str], object] | None = None) -> None:
    """Start the stack (unless told not to) and the five services in the background; wait until ready."""
    say = typer.echo if echo is None else echo
    if with_stack:
        Stack.from_settings().up(progress=say)
    if not services_running(settings):
        procfile = write_procfile(settings)
        processes.start_process(
            _run_dir(settings),
            SUPERVISOR,
            [sys.executable, "-m", "honcho", "start", "-f", str(procfile), "-d", str(Path.cwd())],
            log_file=settings.home / "logs" / "services.log",
        )
        say(f"services: starting (logs: {settings.home / 'logs' / 'services.log'})")
    deadline = time.monotonic() + 180
    pending = list(SERVICES)
    while pending and time.monotonic() < deadline:
        pending = [name for name in pending if not service_health(settings, name, "/readyz")[0]]
        if pending:
            if not services_running(settings):
                raise StackError(f"the services stopped; see {settings.home / 'logs' / 'services.log'}")
            time.sleep(0.5)
    if pending:
        raise StackError(f"services not ready after 180 s: {', '.join(pending)}; see the services log")
    say("services: all five ready")


def stop_services(settings: Settings) -> bool:
    """SIGTERM the supervisor (it forwards to the services); True if they were running."""
    return processes.stop_process(_run_dir(settings), SUPERVISOR, timeout=60)


def register(app: typer.Typer) -> None:
    @app.command()
    def up(
        stack: bool = typer.Option(True, help="also start the local Kafka/PostgreSQL/Redis/S3 stack"),
    ) -> None:
        """Start the stack and all five services in the background."""
        try:
            start_services(get_settings(), with_stack=stack)
        except StackError as exc:
            typer.echo(f"error: {exc}", err=True)
            raise typer.Exit(1) from exc

    @app.command()
    def down(
        stack: bool = typer.Option(False, help="also stop the local infrastructure stack"),
    ) -> None:
        """Stop the services (SIGTERM: in-flight jobs finish or are released)."""
        settings = get_settings()
        stopped = stop_services(settings)
        typer.echo("services: stopped" if stopped else "services: were not running")
        if stack:
            Stack.from_settings().down(progress=typer.echo)

    @app.command()
    def ps() -> None:
        """Show each service's health and readiness."""
        settings = get_settings()
        ok_all = True
        for name in SERVICES:
            alive, _ = service_health(settings, name)
            ready, detail = service_health(settings, name, "/readyz")
            ok_all &= ready
            state = "ready" if ready else ("alive" if alive else "down")
            typer.echo(f"{name:<11} {state:<6} :{settings.service_port(name)}  {'' if ready else detail}")
        if not ok_all:
            raise typer.Exit(1)

    @app.command()
    def service(name: str = typer.Argument(..., help="|".join(SERVICES))) -> None:
        """Run one service in the foreground (what `clipforge up` runs for each)."""
        if name not in SERVICES:
            typer.echo(f"error: unknown service {name!r}; choose one of {', '.join(SERVICES)}", err=True)
            raise typer.Exit(2)
        importlib.import_module(f"clipforge_{name}.main").main()
