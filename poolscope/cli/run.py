"""``poolscope run SCENARIO`` or ``poolscope run --locustfile FILE --host URL``: play a
scenario, or any Locust test against any instrumented service, headless and record it."""

from __future__ import annotations

import re
import sys
from pathlib import Path
from typing import Annotated, NoReturn

import typer
from rich.console import Console

from poolscope._errors import PoolscopeError, UsageError
from poolscope._urls import choose_driver
from poolscope.cli._limits import NoLimits, check_load, check_out_dir
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
from poolscope.compare import (
    Condition,
    FailIfError,
    LoadedRun,
    build_comparison,
    evaluate,
    parse_condition,
)
from poolscope.loadtest import (
    DEFAULT_MAX_FAILURE_RATE,
    DEFAULT_MIN_REQUESTS,
    RichReporter,
    Run,
    RunIncompleteError,
    RunInputError,
    RunOptions,
    judge_run,
    load_run,
    render_summary,
    run_locustfile,
    run_scenario,
)
from poolscope.readings import one_line

# A reason a run failed names runs and endpoints: longer than an error, still bounded.
REASON_LIMIT = 1000

# Bad input (a locustfile that cannot be played, a target that cannot be recorded);
# 1 is kept for a run that did not finish or a scenario check that failed.
USAGE_ERROR = 2

_TIMESPAN = re.compile(r"^(?:(\d+)h)?(?:(\d+)m)?(?:(\d+(?:\.\d+)?)s?)?$")


def parse_duration(text: str) -> float:
    """``30s``, ``2m``, ``1m30s``, ``1h`` or plain seconds."""
    match = _TIMESPAN.match(text.strip())
    if not text.strip() or match is None:
        raise UsageError(f"cannot read duration {text!r}; write e.g. 30s, 2m or 1m30s")
    hours, minutes, seconds = match.groups()
    total = int(hours or 0) * 3600 + int(minutes or 0) * 60 + float(seconds or 0)
    if total < 1:
        raise UsageError("the duration must be at least 1 s")
    return total


def parse_share(text: str) -> float:
    """``1%``, ``0.5 %`` or a plain share (``0.01``), between 0 and 1."""
    stripped = text.strip()
    try:
        share = float(stripped[:-1]) / 100 if stripped.endswith("%") else float(stripped)
    except ValueError:
        raise UsageError(f"cannot read rate {text!r}; write e.g. 1% or 0.01") from None
    if not 0 <= share <= 1:
        raise UsageError(f"rate {text!r} is not between 0 % and 100 %")
    return share


def run(
    scenario: ScenarioName = None,
    locustfile: Locustfile = None,
    user_class: UserClasses = None,
    label: Annotated[
        str | None,
        typer.Option(
            help="With --locustfile: the run's name in file names and compare columns "
            "(default: the locustfile's stem).",
            show_default=False,
        ),
    ] = None,
    variant: Annotated[
        list[str] | None,
        typer.Option("--variant", "-v", help="Variant to play; repeat for several (default: all)."),
    ] = None,
    users: Annotated[
        int | None,
        typer.Option(min=1, help="Locust users (default: the scenario's; 10 with --locustfile)."),
    ] = None,
    spawn_rate: Annotated[
        float | None, typer.Option(min=0.01, help="Users started per second.")
    ] = None,
    duration: Annotated[
        str, typer.Option(help="How long each variant plays: 30s, 2m, ...")
    ] = "30s",
    warmup: WarmupDuration = None,
    host: Annotated[
        str | None,
        typer.Option(help="Load a service already running there instead of starting one."),
    ] = None,
    metrics_url: MetricsUrl = None,
    pool: PoolName = None,
    driver: DriverName = None,
    out: Annotated[Path, typer.Option(help="Directory for the run files.")] = Path("runs"),
    processes: Annotated[
        int, typer.Option(min=1, help="Locust processes (Locust's own --processes mode).")
    ] = 1,
    expect_workers: Annotated[
        int,
        typer.Option(
            min=0,
            help="Run Locust as master and wait for this many `locust --worker` processes "
            "(on this or other machines) to generate the load.",
        ),
    ] = 0,
    master_bind_host: Annotated[
        str,
        typer.Option(help="With --expect-workers: the address the master listens on."),
    ] = "127.0.0.1",
    master_port: Annotated[
        int, typer.Option(min=1, max=65535, help="With --expect-workers: the master's port.")
    ] = 5557,
    workers: Workers = 1,
    database_url: DatabaseUrl = None,
    min_requests: Annotated[
        int,
        typer.Option(
            min=1,
            help="Fail a run (exit 1) that completed fewer requests than this: it measured "
            "too little.",
        ),
    ] = DEFAULT_MIN_REQUESTS,
    max_failure_rate: Annotated[
        str,
        typer.Option(
            help="With --locustfile: fail the run (exit 1) when more of its requests failed, "
            "e.g. 1%, 0.5%, 0.",
        ),
    ] = f"{DEFAULT_MAX_FAILURE_RATE * 100:g}%",
    fail_if: Annotated[
        list[str] | None,
        typer.Option(
            "--fail-if",
            help="Exit 1 when this holds for a run, as `poolscope compare --fail-if` reads it "
            "(e.g. 'p95>500ms', 'wait_p95>0.1'). Repeatable.",
            show_default=False,
        ),
    ] = None,
    no_limits: NoLimits = False,
) -> None:
    """Play SCENARIO (one run file per variant), or --locustfile FILE against --host URL
    (one run file), headless; then print a summary and verdict.

    Exit codes: 0 done, 1 a run did not finish, measured too little, failed a scenario's
    check or a --fail-if condition, or (with --locustfile) had too many failed requests or
    a starved thread pool; 2 bad input.
    """
    chosen_driver = choose_driver(driver, database_url)
    try:
        failure_share = parse_share(max_failure_rate)
        conditions = [parse_condition(expression) for expression in fail_if or []]
    except PoolscopeError as error:
        _fail(str(error))
    if (scenario is None) == (locustfile is None):
        _fail("give a scenario name or --locustfile FILE (with --host URL), not both")
    if locustfile is None and (user_class or label):
        _fail("--user-class and --label go with --locustfile")
    if locustfile is not None and variant:
        _fail("--variant goes with a scenario, not with --locustfile")
    if host is None and (metrics_url or pool):
        _fail("--metrics-url and --pool go with --host: the service they describe")
    if expect_workers and processes > 1:
        _fail("--expect-workers and --processes exclude each other: one spreads the load")
    try:
        seconds = parse_duration(duration)
        warmup_seconds = parse_duration(warmup) if warmup else 0.0
        check_load(
            users=[users] if users else [],
            spawn_rate=spawn_rate,
            # Locust plays both.
            duration_seconds=seconds + warmup_seconds,
            processes=processes,
            expect_workers=expect_workers,
            no_limits=no_limits,
        )
        # Before the load: a run file that cannot be written loses the whole run.
        check_out_dir(out)
    except UsageError as error:
        _fail(str(error))
    options = RunOptions(
        users=users,
        spawn_rate=spawn_rate,
        duration_seconds=seconds,
        warmup_seconds=warmup_seconds,
        host=host.rstrip("/") if host else None,
        driver=chosen_driver,
        out_dir=out,
        processes=processes,
        database_url=database_url,
        service_workers=workers,
        metrics_url=metrics_url,
        pool=pool,
        expect_workers=expect_workers,
        master_bind_host=master_bind_host,
        master_port=master_port,
    )
    console = Console()
    reporter = RichReporter(console)
    try:
        if locustfile is not None:
            paths = [
                run_locustfile(
                    locustfile,
                    options,
                    user_classes=user_class or (),
                    label=label,
                    reporter=reporter,
                )
            ]
        else:
            assert scenario is not None
            paths = run_scenario(scenario, variant or (), options, reporter=reporter)
    except RunInputError as error:
        _fail(str(error))
    except RunIncompleteError as error:
        if error.paths:
            render_summary(console, [load_run(path) for path in error.paths])
        raise
    runs = [load_run(path) for path in paths]
    render_summary(console, runs)
    own = locustfile is not None
    reasons = [
        reason
        for run_ in runs
        for reason in judge_run(
            run_,
            min_requests=min_requests,
            max_failure_rate=failure_share if own else None,
            starvation=own,
        )
    ]
    try:
        reasons += _conditions_holding(conditions, paths, runs)
    except FailIfError as error:
        _fail(str(error))
    for reason in reasons:
        # Names runs and endpoints: shown literally, bounded as compare's are.
        print(f"poolscope: {one_line(reason, REASON_LIMIT)}", file=sys.stderr)
    if reasons or _check_failed(runs):
        raise typer.Exit(1)


def _check_failed(runs: list[Run]) -> bool:
    return any(run.check is not None and not run.check.passed for run in runs)


def _conditions_holding(
    conditions: list[Condition], paths: list[Path], runs: list[Run]
) -> list[str]:
    if not conditions:
        return []
    loaded = [LoadedRun(path=path, run=run_) for path, run_ in zip(paths, runs, strict=True)]
    comparison = build_comparison(loaded)
    return [
        reason
        for condition in conditions
        for reason in evaluate(condition, comparison, every_run=True)
    ]


def _fail(message: str) -> NoReturn:
    print(f"poolscope: error: {one_line(message)}", file=sys.stderr)
    raise typer.Exit(USAGE_ERROR)
