"""``poolscope compare RUN RUN...``: run files side by side, with a verdict and CI gates."""

from __future__ import annotations

import sys
from pathlib import Path
from typing import Annotated

import typer
from rich.console import Console

from poolscope._errors import PoolscopeError, UsageError
from poolscope._urls import choose_driver
from poolscope.cli._limits import NoLimits, check_load, check_out_dir, check_out_file
from poolscope.cli.run import parse_duration
from poolscope.compare import (
    FORMATS,
    CompareInputError,
    FailIfError,
    Format,
    build_comparison,
    evaluate,
    format_for_path,
    load_runs,
    parse_condition,
    play_scenario,
    render,
    write_table,
)
from poolscope.loadtest import RichReporter, RunOptions
from poolscope.readings import one_line

__all__ = ["compare"]

# Bad input and bad --fail-if expressions; 1 is kept for "a --fail-if condition holds".
USAGE_ERROR = 2
# A reason or warning names runs and endpoints: longer than an error, still bounded.
REASON_LIMIT = 1000


def _fail(message: str) -> typer.Exit:
    print(f"poolscope: error: {one_line(message)}", file=sys.stderr)
    return typer.Exit(USAGE_ERROR)


def _run_options(
    duration: str,
    users: int | None,
    driver: str | None,
    runs_dir: Path,
    database_url: str | None,
    no_limits: bool,
) -> RunOptions:
    try:
        chosen_driver = choose_driver(driver, database_url)
    except PoolscopeError as error:
        raise CompareInputError(str(error)) from None
    if users is not None and users < 1:
        raise CompareInputError(f"--users must be at least 1, not {users}")
    try:
        seconds = parse_duration(duration)
        check_load(users=[users] if users else [], duration_seconds=seconds, no_limits=no_limits)
        check_out_dir(runs_dir)
    except PoolscopeError as error:
        raise CompareInputError(str(error)) from None
    return RunOptions(
        users=users,
        duration_seconds=seconds,
        driver=chosen_driver,
        out_dir=runs_dir,
        database_url=database_url,
    )


def compare(
    runs: Annotated[
        list[Path] | None,
        typer.Argument(
            help="Two or more run files, or directories of them; the first is the baseline.",
            show_default=False,
        ),
    ] = None,
    output_format: Annotated[
        str | None,
        typer.Option(
            "--format",
            "-f",
            help="table, markdown, json or html (default: from --out's suffix, else table).",
            show_default=False,
        ),
    ] = None,
    out: Annotated[
        Path | None,
        typer.Option("--out", "-o", help="Write the report to this file.", show_default=False),
    ] = None,
    scenario: Annotated[
        str | None,
        typer.Option(
            "--scenario",
            help="Play every variant of this scenario (as `poolscope run` does), then "
            "compare them; its first variant is the baseline.",
            show_default=False,
        ),
    ] = None,
    duration: Annotated[
        str, typer.Option(help="With --scenario: how long each variant plays.")
    ] = "30s",
    users: Annotated[
        int | None,
        typer.Option(
            help="With --scenario: Locust users (default: the scenario's).", show_default=False
        ),
    ] = None,
    driver: Annotated[
        str | None,
        typer.Option(
            help="With --scenario: psycopg2, psycopg, asyncpg or psycopg_async; pymysql or "
            "aiomysql with a MySQL/MariaDB URL (default: the URL's own, else psycopg2).",
            show_default=False,
        ),
    ] = None,
    runs_dir: Annotated[
        Path, typer.Option(help="With --scenario: directory for the run files.")
    ] = Path("runs"),
    database_url: Annotated[
        str | None,
        typer.Option(
            envvar="POOLSCOPE_DATABASE_URL",
            help="With --scenario: PostgreSQL, MySQL or MariaDB for the service (default: the "
            "embedded PostgreSQL).",
            show_default=False,
        ),
    ] = None,
    fail_if: Annotated[
        list[str] | None,
        typer.Option(
            "--fail-if",
            help="Exit 1 when this holds for a run, e.g. 'wait_p95>0.1', 'p95_ratio>1.2', "
            "'p95[POST /items [create]]>500ms' (docs/limits.md). Repeatable.",
            show_default=False,
        ),
    ] = None,
    no_limits: NoLimits = False,
) -> None:
    """Compare runs side by side: figures, changes against the baseline, a verdict.

    Exit codes: 0 fine, 1 a --fail-if condition holds, 2 bad input.
    """
    if output_format is not None and output_format not in FORMATS:
        raise _fail(f"unknown format {output_format!r}; choose one of {', '.join(FORMATS)}")
    chosen: Format = output_format or format_for_path(out)
    try:
        conditions = [parse_condition(expression) for expression in fail_if or []]
        if out is not None:
            # Before a --scenario plays: a report that cannot be written loses the runs' view.
            check_out_file(out, runs or [])
        if scenario is not None:
            if runs:
                raise CompareInputError("give run files or --scenario, not both")
            runs = play_scenario(
                scenario,
                _run_options(duration, users, driver, runs_dir, database_url, no_limits),
                RichReporter(Console(stderr=True)),
            )
        loaded = load_runs(runs or [])
        comparison = build_comparison(loaded)
        reasons = [reason for c in conditions for reason in evaluate(c, comparison)]
    except (CompareInputError, FailIfError, UsageError) as error:
        raise _fail(str(error)) from None
    for warning in comparison.warnings:
        print(f"poolscope: warning: {one_line(warning, REASON_LIMIT)}", file=sys.stderr)
    if out is not None:
        try:
            out.write_text(render(comparison, loaded, chosen))
        except OSError as error:
            raise _fail(f"{out}: cannot write the report ({error.strerror})") from None
        print(f"poolscope: wrote {one_line(str(out))}", file=sys.stderr)
    elif chosen == "table":
        write_table(comparison, Console())
    else:
        sys.stdout.write(render(comparison, loaded, chosen))
    for reason in reasons:
        print(f"poolscope: {one_line(reason, REASON_LIMIT)}", file=sys.stderr)
    if reasons:
        raise typer.Exit(1)
