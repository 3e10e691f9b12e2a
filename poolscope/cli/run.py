"""``poolscope run SCENARIO``: play a scenario headless and record it."""

from __future__ import annotations

import re
from pathlib import Path
from typing import Annotated

import typer
from rich.console import Console

from poolscope._errors import PoolscopeError
from poolscope._urls import check_driver
from poolscope.loadtest import load_run
from poolscope.loadtest._progress import RichReporter, render_summary
from poolscope.loadtest._run import RunIncompleteError, RunOptions, run_scenario

_TIMESPAN = re.compile(r"^(?:(\d+)h)?(?:(\d+)m)?(?:(\d+(?:\.\d+)?)s?)?$")


def parse_duration(text: str) -> float:
    """``30s``, ``2m``, ``1m30s``, ``1h`` or plain seconds."""
    match = _TIMESPAN.match(text.strip())
    if not text.strip() or match is None:
        raise PoolscopeError(f"cannot read duration {text!r}; write e.g. 30s, 2m or 1m30s")
    hours, minutes, seconds = match.groups()
    total = int(hours or 0) * 3600 + int(minutes or 0) * 60 + float(seconds or 0)
    if total < 1:
        raise PoolscopeError("the duration must be at least 1 s")
    return total


def run(
    scenario: Annotated[str, typer.Argument(help="A scenario name (see `poolscope scenarios`).")],
    variant: Annotated[
        list[str] | None,
        typer.Option("--variant", "-v", help="Variant to play; repeat for several (default: all)."),
    ] = None,
    users: Annotated[
        int | None, typer.Option(min=1, help="Locust users (default: the scenario's).")
    ] = None,
    spawn_rate: Annotated[
        float | None, typer.Option(min=0.01, help="Users started per second.")
    ] = None,
    duration: Annotated[
        str, typer.Option(help="How long each variant plays: 30s, 2m, ...")
    ] = "30s",
    host: Annotated[
        str | None,
        typer.Option(help="Load a service already running there instead of starting one."),
    ] = None,
    driver: Annotated[
        str,
        typer.Option(help="psycopg2 or psycopg (sync routes), asyncpg or psycopg_async (async)."),
    ] = "psycopg2",
    out: Annotated[Path, typer.Option(help="Directory for the run files.")] = Path("runs"),
    processes: Annotated[
        int, typer.Option(min=1, help="Locust processes (Locust's own --processes mode).")
    ] = 1,
    workers: Annotated[int, typer.Option(min=1, help="Service worker processes.")] = 1,
    database_url: Annotated[
        str | None,
        typer.Option(
            envvar="POOLSCOPE_DATABASE_URL",
            help="PostgreSQL for the service (default: the embedded server).",
            show_default=False,
        ),
    ] = None,
) -> None:
    """Play SCENARIO headless, one run file per variant, then print a summary and verdict."""
    chosen_driver = check_driver(driver)
    options = RunOptions(
        users=users,
        spawn_rate=spawn_rate,
        duration_seconds=parse_duration(duration),
        host=host.rstrip("/") if host else None,
        driver=chosen_driver,
        out_dir=out,
        processes=processes,
        database_url=database_url,
        service_workers=workers,
    )
    console = Console()
    try:
        paths = run_scenario(scenario, variant or (), options, reporter=RichReporter(console))
    except RunIncompleteError as error:
        if error.paths:
            render_summary(console, [load_run(path) for path in error.paths])
        raise
    render_summary(console, [load_run(path) for path in paths])
