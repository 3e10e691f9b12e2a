"""``poolscope sweep SCENARIO --pool-sizes 1,2,4``: the pool size a service needs, measured."""

from __future__ import annotations

import re
import sys
from pathlib import Path
from typing import Annotated

import typer
from rich.console import Console

from poolscope._errors import UsageError
from poolscope._urls import choose_driver
from poolscope.cli._limits import NoLimits, check_load, check_out_dir, check_out_file
from poolscope.cli._options import (
    DatabaseUrl,
    DriverName,
    Locustfile,
    MetricsUrl,
    PoolName,
    ScenarioName,
    UserClasses,
    WarmupDuration,
    Workers,
)
from poolscope.cli.run import parse_duration
from poolscope.loadtest import RichReporter
from poolscope.readings import one_line
from poolscope.sweep import SweepOptions, render_html, run_sweep, write_report

__all__ = ["parse_sizes", "parse_wait", "sweep"]

_WAIT = re.compile(r"^(\d+(?:\.\d+)?)\s*(ms|s)?$")
HTML_SUFFIXES = (".html", ".htm")


def parse_sizes(text: str, what: str) -> tuple[int, ...]:
    """``1,2,4,8``: positive whole numbers, at least one."""
    try:
        values = tuple(int(part) for part in text.split(",") if part.strip())
    except ValueError:
        raise UsageError(f"cannot read {what} {text!r}; write e.g. 1,2,4,8") from None
    if not values or min(values) < 1:
        raise UsageError(f"{what} must be whole numbers of at least 1, not {text!r}")
    return values


def parse_wait(text: str) -> float:
    """``50ms``, ``0.2s`` or plain seconds: the pool wait p95 target."""
    match = _WAIT.match(text.strip())
    if match is None:
        raise UsageError(f"cannot read wait target {text!r}; write e.g. 50ms or 0.2s")
    value = float(match.group(1)) / (1000 if match.group(2) == "ms" else 1)
    if value <= 0:
        raise UsageError("the wait target must be above 0")
    return value


def sweep(
    scenario: ScenarioName = None,
    locustfile: Locustfile = None,
    user_class: UserClasses = None,
    serve_cmd: Annotated[
        str | None,
        typer.Option(
            help="Your service, started per step: a command line with {port} and {pool_size} "
            "(run without a shell).",
            show_default=False,
        ),
    ] = None,
    host: Annotated[
        str | None,
        typer.Option(
            help="A running service (no restart): the steps vary --users instead of the pool.",
            show_default=False,
        ),
    ] = None,
    metrics_url: MetricsUrl = None,
    pool: PoolName = None,
    pool_sizes: Annotated[
        str, typer.Option(help="Pool sizes to play, one run each.")
    ] = "1,2,4,8,16",
    users: Annotated[
        str | None,
        typer.Option(
            help="Locust users of every step (default: the scenario's; 10 with --locustfile); "
            "with --host, one step per value (default 5,10,20,40).",
            show_default=False,
        ),
    ] = None,
    duration: Annotated[str, typer.Option(help="How long each step plays: 20s, 1m, ...")] = "20s",
    warmup: WarmupDuration = None,
    target_wait_p95: Annotated[
        str, typer.Option(help="Pool wait p95 a recommended size must stay under.")
    ] = "50ms",
    out: Annotated[
        Path,
        typer.Option(
            help="Directory for the run files and the sweep file; a .html file writes the "
            "page there and the files beside it."
        ),
    ] = Path("sweeps"),
    output_format: Annotated[
        str, typer.Option("--format", help="table, or html (also writes the page).")
    ] = "table",
    driver: DriverName = None,
    workers: Workers = 1,
    database_url: DatabaseUrl = None,
    no_limits: NoLimits = False,
) -> None:
    """Play SCENARIO (or --locustfile) once per pool size; report throughput, latency and
    pool wait per size, and recommend the smallest size that serves the best throughput
    within the wait target.

    Exit codes: 0 done, 1 a step did not finish (the sweep file is marked partial),
    2 bad input.
    """
    chosen_driver = choose_driver(driver, database_url)
    if output_format not in ("table", "html"):
        raise UsageError(f"unknown format {output_format!r}; choose table or html")
    html_path: Path | None = None
    out_dir = out
    if out.suffix.lower() in HTML_SUFFIXES:
        html_path, out_dir = out, out.parent
    try:
        sizes = parse_sizes(pool_sizes, "--pool-sizes")
        steps_users = parse_sizes(users, "--users") if users else ()
        seconds = parse_duration(duration)
        warmup_seconds = parse_duration(warmup) if warmup else 0.0
        wait = parse_wait(target_wait_p95)
        # Each step plays its warm-up, then its duration.
        check_load(
            users=steps_users,
            pool_sizes=sizes,
            duration_seconds=seconds + warmup_seconds,
            no_limits=no_limits,
        )
        check_out_dir(out_dir)
        if html_path is not None:
            check_out_file(html_path)
    except UsageError as error:
        print(f"poolscope: error: {one_line(str(error))}", file=sys.stderr)
        raise typer.Exit(2) from None
    options = SweepOptions(
        pool_sizes=sizes,
        users=steps_users,
        duration_seconds=seconds,
        warmup_seconds=warmup_seconds,
        target_wait_p95=wait,
        driver=chosen_driver,
        out_dir=out_dir,
        database_url=database_url,
        service_workers=workers,
        locustfile=locustfile,
        user_classes=tuple(user_class or ()),
        serve_command=serve_cmd,
        host=host.rstrip("/") if host else None,
        metrics_url=metrics_url,
        pool=pool,
    )
    console = Console()
    result = run_sweep(scenario, options, reporter=RichReporter(console))
    write_report(result.sweep, console)
    if html_path is None and output_format == "html":
        html_path = result.path.with_suffix(".html")
    if html_path is not None:
        html_path.write_text(render_html(result.sweep))
        print(f"poolscope: wrote {one_line(str(html_path))}", file=sys.stderr)
    if result.sweep.partial:
        reason = one_line(result.sweep.partial_reason or "")
        print(f"poolscope: partial sweep: {reason}", file=sys.stderr)
        raise typer.Exit(1)
