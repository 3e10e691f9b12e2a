"""``poolscope run``: play one scenario headless and record one run file per variant.

Starts what is missing (the embedded PostgreSQL, the sample service with the scenario's
settings) as subprocesses on free ports, runs Locust in its own process, samples the
service's ``/metrics`` meanwhile, and stops everything it started, also on Ctrl-C or when
a part dies; then the run file is still written, marked incomplete.
"""

from __future__ import annotations

import contextlib
import logging
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
from poolscope._urls import Driver, mask_url
from poolscope.loadtest._catalog import (
    ScenarioInfo,
    VariantInfo,
    check_runs,
    find_scenario,
    incomplete_check,
)
from poolscope.loadtest._children import locust_command, start_service, wait_until_ready
from poolscope.loadtest._environment import describe_environment, passwords_of
from poolscope.loadtest._locust_result import LocustFiles, read_live_totals, read_locust_totals
from poolscope.loadtest._processes import ManagedProcess
from poolscope.loadtest._progress import NullReporter, Reporter
from poolscope.loadtest._runfile import Configuration, Run, load_run, write_run
from poolscope.loadtest._sampler import MetricsSampler, samples_since, summarize_pool
from poolscope.loadtest._scrape import PoolSnapshot
from poolscope.postgres import DATABASE_URL_ENV, EmbeddedPostgres

__all__ = ["RunIncompleteError", "RunOptions", "run_scenario"]

logger = logging.getLogger("poolscope.run")

LOCUST_GRACE_SECONDS = 30.0  # past the duration: Locust's start-up and shutdown
SETTLE_SECONDS = 5.0  # after the load: until every connection is back in the pool
SCRAPE_FAILURES_TOLERATED = 6
LOG_LINES_KEPT = 200  # of the service's and Locust's output, beside an incomplete run file


@dataclass(frozen=True, kw_only=True)
class RunOptions:
    users: int | None = None  # default: the scenario's
    spawn_rate: float | None = None
    duration_seconds: float = 30.0
    host: str | None = None  # a running service; else poolscope starts one per variant
    driver: Driver = "psycopg2"
    out_dir: Path = Path("runs")
    processes: int = 1  # Locust processes (its own --processes mode)
    database_url: str | None = None  # else $POOLSCOPE_DATABASE_URL, else the embedded server
    service_workers: int = 1
    sample_interval: float = 0.5


class RunIncompleteError(PoolscopeError):
    """A run that did not finish; its run files were written anyway, marked incomplete."""

    def __init__(self, message: str, paths: Sequence[Path]) -> None:
        super().__init__(message)
        self.paths = list(paths)


class _Interrupted(Exception):
    """SIGTERM, turned into an exception so the cleanup runs."""


@dataclass
class _Outcome:
    failure: str | None = None
    interrupted: bool = False
    logs: dict[str, str] = field(default_factory=dict)  # the last of each child's output


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
    paths: list[Path] = []
    failures: list[str] = []
    interrupted = False
    with _sigterm_interrupts(), _database(options, reporter) as database_url:
        for variant in chosen:
            run, outcome = _play_variant(scenario, variant, options, database_url, reporter)
            paths.append(write_run(run, _run_path(options.out_dir, run)))
            reporter.note(f"wrote {paths[-1]}")
            for child, text in outcome.logs.items():
                log_path = paths[-1].with_name(f"{paths[-1].stem}.{child}.log")
                log_path.write_text(text)
                reporter.note(f"{child} log: {log_path}")
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


def _run_path(out_dir: Path, run: Run) -> Path:
    stamp = run.started_at.strftime("%Y%m%dT%H%M%S")
    path = out_dir / f"{run.scenario}-{run.variant}-{stamp}.json"
    counter = 2
    while path.exists():
        path = out_dir / f"{run.scenario}-{run.variant}-{stamp}-{counter}.json"
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
def _sigterm_interrupts() -> Iterator[None]:
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
def _database(options: RunOptions, reporter: Reporter) -> Iterator[str | None]:
    """The database URL the service uses; the embedded server is started when needed and
    stopped afterwards if this run started it."""
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


def _play_variant(
    scenario: ScenarioInfo,
    variant: VariantInfo,
    options: RunOptions,
    database_url: str | None,
    reporter: Reporter,
) -> tuple[Run, _Outcome]:
    settings = scenario.settings_for(variant)
    users = options.users or scenario.users
    spawn_rate = options.spawn_rate or scenario.spawn_rate
    duration = max(1, round(options.duration_seconds))
    outcome = _Outcome()
    started_at = datetime.now(UTC)
    secrets = passwords_of(database_url) if database_url else []
    service: ManagedProcess | None = None
    locust: ManagedProcess | None = None
    sampler: MetricsSampler | None = None
    baseline = PoolSnapshot()
    workdir = Path(tempfile.mkdtemp(prefix=f"poolscope-run-{scenario.name}-"))
    files = LocustFiles(directory=workdir)
    host = options.host
    try:
        if host is None:
            service = start_service(
                settings,
                driver=options.driver,
                workers=options.service_workers,
                database_url=database_url,
                workdir=workdir,
            )
            host = wait_until_ready(service, secrets)
            reporter.note(f"started the service (pid {service.pid}) at {host}")
        sampler = MetricsSampler(host, interval=options.sample_interval)
        baseline = sampler.take_baseline()
        if not baseline.instrumented:
            reporter.note(f"{host}/metrics has no poolscope pool metrics; pool data will be empty")
        sampler.start()
        locust = ManagedProcess(
            "Locust",
            locust_command(
                scenario.locustfile,
                variant.user_classes,
                host=host,
                users=users,
                spawn_rate=spawn_rate,
                duration=duration,
                processes=options.processes,
                files=files,
            ),
            log_path=workdir / "locust.log",
            cwd=workdir,
        ).start()
        reporter.started(scenario.name, variant.name, float(duration), host)
        _supervise(locust, service, sampler, files, float(duration), reporter, outcome)
        if outcome.failure is None:
            _settle(sampler)
    except (KeyboardInterrupt, _Interrupted):
        outcome.failure, outcome.interrupted = "interrupted", True
    except PoolscopeError as error:
        outcome.failure = str(error)
    except httpx.HTTPError as error:
        outcome.failure = f"cannot read {host}/metrics: {type(error).__name__}: {error}"
    finally:
        reporter.finished()
        _stop_all(locust, sampler, service, reporter)
    if outcome.failure:
        reporter.note(f"{scenario.name}/{variant.name} incomplete: {outcome.failure}")
        for child in (service, locust):
            if child is not None:
                outcome.logs[child.name.lower()] = child.log_tail(LOG_LINES_KEPT, hide=secrets)
    timed = sampler.collected() if sampler is not None else []
    run = Run(
        scenario=scenario.name,
        variant=variant.name,
        complete=outcome.failure is None,
        incomplete_reason=outcome.failure,
        started_at=started_at,
        finished_at=datetime.now(UTC),
        configuration=Configuration(
            database_url=mask_url(database_url) if database_url else "(the service's own)",
            driver=options.driver,
            pool_size=int(settings.get("pool_size") or 0),
            max_overflow=int(settings.get("max_overflow") or 0),
            pool_timeout=float(settings.get("pool_timeout") or 30),
            leak_threshold=_optional_float(settings.get("leak_threshold")),
            users=users,
            spawn_rate=spawn_rate,
            duration_seconds=float(duration),
            host=host or "",
            processes=options.processes,
            service_workers=options.service_workers,
            extra={
                "user_classes": ",".join(variant.user_classes),
                "service": "external" if options.host else "started by poolscope run",
            },
        ),
        environment=describe_environment(database_url),
        locust=read_locust_totals(files, float(duration)),
        pool=summarize_pool(
            baseline, timed, sampler.leak_reports() if sampler is not None else None
        ),
        samples=samples_since(baseline, timed),
    )
    shutil.rmtree(workdir, ignore_errors=True)
    return run, outcome


def _optional_float(value: int | float | str | None) -> float | None:
    return None if value is None else float(value)


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
