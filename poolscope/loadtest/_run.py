"""``poolscope run``: play one scenario headless and record one run file per variant.

Starts what is missing (the embedded PostgreSQL, the sample service with the scenario's
settings) as subprocesses on free ports, runs Locust in its own process, samples the
service's ``/metrics`` meanwhile, and stops everything it started, also on Ctrl-C or when
a part dies; then the run file is still written, marked incomplete. A user's own
locustfile against their own service is played the same way (``_locustfile``).
"""

from __future__ import annotations

import contextlib
import logging
import math
import os
import shutil
import signal
import tempfile
import threading
import time
from collections.abc import Iterator, Sequence
from dataclasses import dataclass, field
from datetime import UTC, datetime
from pathlib import Path
from types import FrameType

import httpx

from poolscope._errors import PoolscopeError
from poolscope._urls import mask_url
from poolscope.loadtest._catalog import (
    ScenarioInfo,
    VariantInfo,
    check_runs,
    find_scenario,
    incomplete_check,
)
from poolscope.loadtest._environment import describe_environment, passwords_of
from poolscope.loadtest._launch import locust_command, start_service, wait_until_ready
from poolscope.loadtest._locust_result import (
    LocustFiles,
    read_live_totals,
    read_locust_totals,
    read_warmup_mark,
)
from poolscope.loadtest._plan import RunOptions, RunPlan, configuration, master_options
from poolscope.loadtest._processes import ManagedProcess
from poolscope.loadtest._progress import NullReporter, Reporter
from poolscope.loadtest._target import Target, TargetError, check_routes, inspect_target
from poolscope.loadtest._warmup import FILE_ENV, METRICS_ENV, SECONDS_ENV, write_hook
from poolscope.postgres import DATABASE_URL_ENV, EmbeddedPostgres
from poolscope.readings import (
    LeakReport,
    LocustTotals,
    MetricsSampler,
    PoolSnapshot,
    PoolSummary,
    Run,
    TimedSnapshot,
    Warmup,
    counters_reset,
    load_run,
    parse_metrics,
    samples_since,
    shorten,
    summarize_pool,
    write_run,
)

__all__ = [
    "RunIncompleteError",
    "RunOptions",
    "RunPlan",
    "database_for",
    "play",
    "run_scenario",
    "sigterm_interrupts",
    "write_outcome",
]

logger = logging.getLogger("poolscope.run")

LOCUST_GRACE_SECONDS = 30.0  # past the duration: Locust's start-up and shutdown
SETTLE_SECONDS = 5.0  # after the load: until every connection is back in the pool
SCRAPE_FAILURES_TOLERATED = 6
# An incomplete run's reason can quote a target or a child's output: kept readable.
REASON_LIMIT = 2000
LOG_LINES_KEPT = 200  # of the service's and Locust's output, beside an incomplete run file


class RunIncompleteError(PoolscopeError):
    """A run that did not finish; its run files were written anyway, marked incomplete."""

    def __init__(self, message: str, paths: Sequence[Path]) -> None:
        super().__init__(message)
        self.paths = list(paths)


class _Interrupted(KeyboardInterrupt):
    """SIGTERM, turned into an exception so the cleanup runs (and handled as Ctrl-C is,
    wherever it lands)."""


@dataclass
class _Outcome:
    file_prefix: str
    failure: str | None = None
    interrupted: bool = False
    logs: dict[str, str] = field(default_factory=dict)  # the last of each child's output
    # The sampler's t at which Locust marked the warm-up's end (a sample was taken then).
    warmup_ended_at: float | None = None


def run_scenario(
    name: str,
    variants: Sequence[str] = (),
    options: RunOptions | None = None,
    *,
    reporter: Reporter | None = None,
) -> list[Path]:
    """Play ``name``'s variants (all when none is named); return the run files written.

    Raises :class:`RunIncompleteError` (after writing) when a variant did not finish.
    """
    options = options or RunOptions()
    reporter = reporter or NullReporter()
    scenario = find_scenario(name)
    chosen = [scenario.variant(v) for v in variants] if variants else list(scenario.variants)
    if options.host is not None:
        # Before anything runs: a target that is not the sample service would answer
        # every request with a 404, and the check would blame the pool.
        check_routes(options.host, scenario.probes, scenario=scenario.name)
        inspect_target(options.host, metrics_url=options.metrics_url, pool=options.pool)
    paths: list[Path] = []
    failures: list[str] = []
    interrupted = False
    with sigterm_interrupts(), database_for(options, reporter) as database_url:
        for variant in chosen:
            run, outcome = play(
                _scenario_play(scenario, variant, options), options, database_url, reporter
            )
            paths.append(write_outcome(run, outcome, options.out_dir, reporter))
            if outcome.failure:
                failures.append(f"{variant.name}: {outcome.failure}")
            if outcome.interrupted:
                interrupted = True
                break
    missing = [variant.name for variant in chosen[len(paths) :]]
    _add_check(scenario.name, paths, missing, reporter)
    if interrupted:
        raise RunIncompleteError("interrupted; run files marked incomplete", paths)
    if failures:
        raise RunIncompleteError("; ".join(failures), paths)
    return paths


def write_outcome(run: Run, outcome: _Outcome, out_dir: Path, reporter: Reporter) -> Path:
    """The run file, and beside an incomplete one the last output of its children."""
    path = write_run(run, _run_path(out_dir, outcome.file_prefix, run))
    reporter.note(f"wrote {path}")
    for child, text in outcome.logs.items():
        log_path = path.with_name(f"{path.stem}.{child}.log")
        log_path.write_text(text)
        reporter.note(f"{child} log: {log_path}")
    return path


def _run_path(out_dir: Path, prefix: str, run: Run) -> Path:
    stamp = run.started_at.strftime("%Y%m%dT%H%M%S")
    path = out_dir / f"{prefix}-{stamp}.json"
    counter = 2
    while path.exists():
        path = out_dir / f"{prefix}-{stamp}-{counter}.json"
        counter += 1
    return path


def _add_check(scenario: str, paths: list[Path], missing: list[str], reporter: Reporter) -> None:
    runs = [load_run(path) for path in paths]
    if missing or not all(run.complete for run in runs):
        # The scenario's check would judge part of the evidence as if it were all of it.
        check = incomplete_check(runs, missing)
        reporter.note(f"check: {check.verdict}")
    else:
        try:
            check = check_runs(scenario, paths)
        except PoolscopeError as error:
            reporter.note(f"could not check the runs: {error}")
            return
    for path in paths:
        write_run(load_run(path).model_copy(update={"check": check}), path)


@contextlib.contextmanager
def sigterm_interrupts() -> Iterator[None]:
    """SIGTERM stops the run like Ctrl-C does: children stopped, run files written."""
    if threading.current_thread() is threading.main_thread():

        def interrupt(_signum: int, _frame: FrameType | None) -> None:
            raise _Interrupted

        previous = signal.signal(signal.SIGTERM, interrupt)
        try:
            yield
        finally:
            signal.signal(signal.SIGTERM, previous)
    else:
        yield


@contextlib.contextmanager
def database_for(options: RunOptions, reporter: Reporter) -> Iterator[str | None]:
    """The database URL the service uses (one for all the runs of a sweep); the embedded
    server is started when needed and stopped afterwards if this run started it."""
    given = options.database_url or os.environ.get(DATABASE_URL_ENV)
    if options.host is not None or given:
        yield given
        return
    server = EmbeddedPostgres()
    was_running = server.status().running
    url = server.start()
    if not was_running:
        reporter.note(f"started the embedded PostgreSQL at {mask_url(url)}")
    try:
        yield url
    finally:
        if not was_running:
            server.stop()
            reporter.note("stopped the embedded PostgreSQL")


def _scenario_play(scenario: ScenarioInfo, variant: VariantInfo, options: RunOptions) -> RunPlan:
    return RunPlan(
        scenario=scenario.name,
        variant=variant.name,
        locustfile=scenario.locustfile,
        user_classes=variant.user_classes,
        users=options.users or scenario.users,
        spawn_rate=options.spawn_rate or scenario.spawn_rate,
        service_settings=None if options.host else scenario.settings_for(variant),
    )


def play(
    plan: RunPlan,
    options: RunOptions,
    database_url: str | None,
    reporter: Reporter,
    *,
    spawned: ManagedProcess | None = None,
) -> tuple[Run, _Outcome]:
    """Play ``plan`` once: start the service when ``plan`` says so, run Locust, sample the
    target. The run is returned, not written; a target that cannot be recorded (no
    poolscope metrics, several pools and no ``options.pool``) raises :class:`TargetError`
    with everything stopped. ``spawned`` is that service already started with the plan's
    settings (a sweep starts the next step's while the last one winds down); it is
    stopped at the end all the same."""
    duration = max(1, round(options.duration_seconds))
    warmup = options.warmup_seconds
    # Locust plays the warm-up, then the duration.
    played = duration + (math.ceil(warmup) if warmup > 0 else 0)
    outcome = _Outcome(file_prefix=plan.file_prefix or f"{plan.scenario}-{plan.variant}")
    started_at = datetime.now(UTC)
    secrets = passwords_of(database_url) if database_url else []
    service: ManagedProcess | None = None
    locust: ManagedProcess | None = None
    sampler: MetricsSampler | None = None
    target: Target | None = None
    baseline = PoolSnapshot()
    workdir = Path(tempfile.mkdtemp(prefix=f"poolscope-run-{plan.scenario}-"))
    files = LocustFiles(directory=workdir)
    host = options.host
    unrecordable = False
    try:
        if plan.service_settings is not None:
            service = spawned or start_service(
                plan.service_settings,
                driver=options.driver,
                workers=options.service_workers,
                database_url=database_url,
                workdir=workdir,
            )
            host = wait_until_ready(service, secrets)
            reporter.note(f"started the service (pid {service.pid}) at {host}")
        if host is None:
            raise TargetError("no target: give --host URL")
        target = inspect_target(host, metrics_url=options.metrics_url, pool=options.pool)
        sampler = MetricsSampler(
            host, metrics_url=target.metrics_url, pool=target.pool, interval=options.sample_interval
        )
        baseline = sampler.take_baseline()
        sampler.start()
        locust = ManagedProcess(
            "Locust",
            locust_command(
                plan.locustfile,
                plan.user_classes,
                host=host,
                users=plan.users,
                spawn_rate=plan.spawn_rate,
                duration=played,
                processes=options.processes,
                files=files,
                master=master_options(options),
                # Loaded beside the locustfile: it marks the warm-up's end.
                also_load=(write_hook(workdir),) if warmup > 0 else (),
            ),
            log_path=workdir / "locust.log",
            cwd=workdir,
            env={
                **os.environ,
                SECONDS_ENV: f"{warmup:g}",
                FILE_ENV: str(files.warmup_mark),
                METRICS_ENV: target.metrics_url,
            }
            if warmup > 0
            else None,
        ).start()
        if options.expect_workers:
            reporter.note(
                f"Locust master waits for {options.expect_workers} worker(s) on "
                f"{options.master_bind_host}:{options.master_port}"
            )
        reporter.started(plan.scenario, plan.variant, float(played), host)
        grace = options.workers_wait_seconds if options.expect_workers else 0.0
        _supervise(locust, service, sampler, files, float(played) + grace, reporter, outcome)
        if outcome.failure is None:
            _settle(sampler)
    except TargetError:
        unrecordable = True
        raise
    except (KeyboardInterrupt, _Interrupted):
        outcome.failure, outcome.interrupted = "interrupted", True
    except PoolscopeError as error:
        outcome.failure = str(error)
    except httpx.HTTPError as error:
        outcome.failure = f"cannot read {host}/metrics: {type(error).__name__}: {error}"
    finally:
        reporter.finished()
        _stop_all(locust, sampler, service, reporter)
        if unrecordable:
            shutil.rmtree(workdir, ignore_errors=True)
    if outcome.failure:
        reporter.note(f"{plan.scenario}/{plan.variant} incomplete: {outcome.failure}")
        for child in (service, locust):
            if child is not None:
                outcome.logs[child.name.lower()] = child.log_tail(LOG_LINES_KEPT, hide=secrets)
    timed = sampler.collected() if sampler is not None else []
    if sampler is not None and sampler.failed_reads:
        reporter.note(
            f"{plan.scenario}/{plan.variant}: {sampler.failed_reads} read(s) of "
            f"{sampler.url} failed, their samples are missing; the last: {sampler.last_error}"
        )
    if counters_reset(baseline, timed):
        reporter.note(
            f"{plan.scenario}/{plan.variant}: the target's counters went down during the run "
            "(it restarted?); counted on from their new start"
        )
    leaks = sampler.leak_reports() if sampler is not None else None
    settings = plan.service_settings or {}
    locust_totals = read_locust_totals(files, float(played))
    pool = summarize_pool(baseline, timed, leaks)
    warmup_record = None
    if warmup > 0:
        warmup_record = Warmup(seconds=warmup, ended_at=None, locust=locust_totals, pool=pool)
        after = _after_warmup(files, float(duration), outcome, timed, leaks, target)
        if after is not None:
            locust_totals, pool = after
            warmup_record = warmup_record.model_copy(update={"ended_at": outcome.warmup_ended_at})
    run = Run(
        scenario=plan.scenario,
        variant=plan.variant,
        complete=outcome.failure is None,
        incomplete_reason=shorten(outcome.failure, REASON_LIMIT) if outcome.failure else None,
        started_at=started_at,
        finished_at=datetime.now(UTC),
        configuration=configuration(plan, options, target, settings, database_url, host),
        environment=describe_environment(database_url),
        locust=locust_totals,
        pool=pool,
        samples=samples_since(baseline, timed),
        locustfile=plan.record,
        warmup=warmup_record,
    )
    shutil.rmtree(workdir, ignore_errors=True)
    return run, outcome


def _after_warmup(
    files: LocustFiles,
    duration: float,
    outcome: _Outcome,
    timed: list[TimedSnapshot],
    leaks: list[LeakReport] | None,
    target: Target | None,
) -> tuple[LocustTotals | None, PoolSummary | None] | None:
    """Locust's and the pool's figures after the warm-up, or None when it never ended."""
    mark = read_warmup_mark(files.warmup_mark)
    ended = outcome.warmup_ended_at
    if mark is None or ended is None:
        return None
    # The pool's baseline for the rest: the metrics Locust's hook read as it marked the
    # end (the same instant as its counts), else the sample taken when the mark was seen.
    index = max((i for i, item in enumerate(timed) if item.t <= ended), default=None)
    if index is None:
        return None
    baseline = timed[index].snapshot
    scraped = mark.get("metrics")
    if isinstance(scraped, str) and target is not None:
        with contextlib.suppress(ValueError):
            baseline = parse_metrics(scraped, pool=target.pool)
    pool = summarize_pool(baseline, timed[index + 1 :], leaks)
    return read_locust_totals(files, duration, since=mark), pool


def _supervise(
    locust: ManagedProcess,
    service: ManagedProcess | None,
    sampler: MetricsSampler,
    files: LocustFiles,
    duration: float,
    reporter: Reporter,
    outcome: _Outcome,
) -> None:
    started = time.monotonic()
    deadline = started + duration + LOCUST_GRACE_SECONDS
    while True:
        code = locust.poll()
        if code is not None:
            reporter.load_ended()
            if code != 0:
                outcome.failure = f"Locust exited with code {code}: {locust.log_tail(3)}"
            return
        if service is not None and (service_code := service.poll()) is not None:
            outcome.failure = (
                f"the service (pid {service.pid}) exited with code {service_code} during the run"
            )
            return
        if sampler.consecutive_failures >= SCRAPE_FAILURES_TOLERATED:
            outcome.failure = f"{sampler.url} stopped answering: {sampler.last_error}"
            return
        if time.monotonic() > deadline:
            outcome.failure = f"Locust was still running {LOCUST_GRACE_SECONDS:.0f} s past the end"
            return
        if outcome.warmup_ended_at is None and files.warmup_mark.exists():
            # Taken now: the pool's baseline for the figures after the warm-up (a failed
            # scrape leaves it for the next turn).
            marked = sampler.sample_once()
            outcome.warmup_ended_at = marked.t if marked is not None else None
        latest = sampler.latest()
        reporter.update(
            time.monotonic() - started,
            read_live_totals(files),
            latest.snapshot if latest else None,
        )
        time.sleep(0.25)


def _settle(sampler: MetricsSampler) -> None:
    """Requests Locust abandoned at its stop still finish in the service; wait for them, so
    the last sample shows the pool at rest (or, when it does not come to rest, as it stays)."""
    sampler.stop_loop()  # from here on, one scrape at a time, from this thread
    deadline = time.monotonic() + SETTLE_SECONDS
    while time.monotonic() < deadline:
        timed = sampler.sample_once()
        if timed is not None and timed.snapshot.pending == 0 and timed.snapshot.used == 0:
            break
        time.sleep(sampler.interval)
    time.sleep(sampler.interval)
    sampler.sample_once()


def _stop_all(
    locust: ManagedProcess | None,
    sampler: MetricsSampler | None,
    service: ManagedProcess | None,
    reporter: Reporter,
) -> None:
    # Locust first: on SIGTERM it still writes its statistics.
    if locust is not None:
        locust.stop(grace_seconds=15)
    if sampler is not None:
        sampler.stop()
    if service is not None:
        exit_code = service.poll()
        service.stop(grace_seconds=10)
        if exit_code is None:
            reporter.note(f"stopped the service (pid {service.pid})")
        else:
            reporter.note(f"the service (pid {service.pid}) had died (exit code {exit_code})")
