"""``poolscope sweep``: one run per pool size (or per user count), then the sweep file.

Three ways to play the steps:

- a built-in scenario on the sample service: each step starts ``poolscope serve`` with
  the step's pool size and the scenario's other settings (the database starts once);
- ``--serve-cmd 'CMD {port} {pool_size}'``: each step starts the user's own service
  (``_own_service``), checks it reports the step's pool size, and stops it afterwards;
- ``--host URL`` alone: the running target cannot be restarted, so the steps vary the
  Locust users instead.

Ctrl-C (or SIGTERM) stops what is running and still writes the sweep file, marked
partial, with the steps that finished.
"""

from __future__ import annotations

import dataclasses
import time
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path

import httpx

from poolscope._errors import PoolscopeError
from poolscope._redact import redact
from poolscope._urls import Driver, mask_url
from poolscope.loadtest import (
    LocustfileRecord,
    ManagedProcess,
    NullReporter,
    Play,
    Reporter,
    RunOptions,
    check_routes,
    database_for,
    describe_locustfile,
    find_scenario,
    inspect_target,
    load_run,
    max_connections,
    metrics_url_for,
    passwords_of,
    play,
    sigterm_interrupts,
    write_outcome,
)
from poolscope.readings import (
    MAX_METRICS_BYTES,
    PoolSettings,
    ScrapeError,
    get_bounded,
    pool_settings,
)
from poolscope.sweep._ahead import Ahead
from poolscope.sweep._figures import step_from_run
from poolscope.sweep._model import Parameter, Step, Sweep, SweepConfiguration, write_sweep
from poolscope.sweep._own_service import start_own_service
from poolscope.sweep._recommend import recommend

__all__ = ["SweepOptions", "SweepResult", "connection_warning", "run_sweep"]

DEFAULT_USERS = 10  # with --locustfile, as `poolscope run --locustfile`
DEFAULT_USER_STEPS = (5, 10, 20, 40)


@dataclass(frozen=True, kw_only=True)
class SweepOptions:
    pool_sizes: tuple[int, ...] = (1, 2, 4, 8, 16)
    # Pool-size sweeps: one value (default: the scenario's); --host sweeps: one per step.
    users: tuple[int, ...] = ()
    duration_seconds: float = 20.0
    warmup_seconds: float = 0.0  # played before each step's duration, left out of its figures
    target_wait_p95: float = 0.05
    driver: Driver = "psycopg2"
    out_dir: Path = Path("sweeps")
    database_url: str | None = None  # else $POOLSCOPE_DATABASE_URL, else the embedded server
    service_workers: int = 1
    # Twice as often as `poolscope run`: more samples of the used gauge in short steps.
    sample_interval: float = 0.25
    locustfile: Path | None = None  # instead of a scenario
    user_classes: tuple[str, ...] = ()  # with locustfile; empty: as Locust picks
    serve_command: str | None = None  # a user's service, started per step
    host: str | None = None  # a running target: the steps vary the users
    metrics_url: str | None = None  # default: HOST/metrics
    pool: str | None = None  # the pool to record when the target exports several


@dataclass(frozen=True, kw_only=True)
class SweepResult:
    path: Path  # the sweep file
    sweep: Sweep


def connection_warning(
    server_max: int | None, workers: int, largest_pool: int, overflow: int
) -> str | None:
    """The warning for a sweep whose largest step needs more connections than the server
    allows: what follows "just raise pool_size" in production."""
    needed = workers * (largest_pool + overflow)
    if server_max is None or needed <= server_max:
        return None
    return (
        f"{workers} worker(s) × (pool {largest_pool} + overflow {overflow}) = {needed} "
        f"connections exceed the server's max_connections ({server_max}): the largest steps "
        "will fail to connect, as production would"
    )


@dataclass(frozen=True, kw_only=True)
class _Plan:
    """What every step shares; a step changes the pool size or the users."""

    name: str  # in file names
    play: Play  # users and service settings are set per step
    parameter: Parameter
    values: tuple[int, ...]
    max_overflow: int | None  # None: read from the target


def _plan(scenario: str | None, options: SweepOptions) -> _Plan:
    if (scenario is None) == (options.locustfile is None):
        raise PoolscopeError("give one of: a scenario name, or --locustfile FILE")
    if options.serve_command and options.host:
        raise PoolscopeError("give --serve-cmd (a service per step) or --host, not both")
    parameter: Parameter = "users" if options.host else "pool_size"
    if parameter == "pool_size" and len(options.users) > 1:
        raise PoolscopeError("one --users value per pool-size sweep; several go with --host")
    if options.locustfile is not None:
        if not (options.serve_command or options.host):
            raise PoolscopeError(
                "--locustfile needs --serve-cmd 'CMD {port} {pool_size}' or --host"
            )
        info = describe_locustfile(options.locustfile, options.user_classes)
        # examples/orders/locustfile.py reads better as "orders" in file names.
        stem = options.locustfile.stem
        name = info.path.parent.name if stem == "locustfile" else stem
        base = Play(
            scenario=name, variant="sweep", locustfile=info.path,
            user_classes=options.user_classes, users=DEFAULT_USERS,
            spawn_rate=float(DEFAULT_USERS),
            record=LocustfileRecord(
                path=str(info.path), sha256=info.sha256, user_classes=list(options.user_classes)
            ),
        )  # fmt: skip
        overflow = None
    else:
        assert scenario is not None
        found = find_scenario(scenario)
        if options.host is not None:
            # A target that is not the sample service would answer every request with a 404.
            check_routes(options.host, found.probes, scenario=found.name)
        variant = found.variants[0]
        settings = found.settings_for(variant)
        name = found.name
        base = Play(
            scenario=found.name, variant=variant.name, locustfile=found.locustfile,
            user_classes=variant.user_classes, users=found.users, spawn_rate=found.spawn_rate,
            service_settings=None if options.serve_command or options.host else settings,
        )  # fmt: skip
        overflow = None if base.service_settings is None else int(settings.get("max_overflow") or 0)
    if parameter == "users":
        values = tuple(sorted(set(options.users or DEFAULT_USER_STEPS)))
    else:
        values = tuple(sorted(set(options.pool_sizes)))
        if options.users:
            base = dataclasses.replace(base, users=options.users[0])
    if not values:
        raise PoolscopeError("give at least one step")
    return _Plan(name=name, play=base, parameter=parameter, values=values, max_overflow=overflow)


def _step_play(plan: _Plan, value: int) -> Play:
    if plan.parameter == "users":
        return dataclasses.replace(
            plan.play, users=value, spawn_rate=max(plan.play.spawn_rate, float(value)),
            file_prefix=f"{plan.name}-users-{value}",
        )  # fmt: skip
    settings = plan.play.service_settings
    return dataclasses.replace(
        plan.play,
        service_settings=None if settings is None else {**settings, "pool_size": value},
        file_prefix=f"{plan.name}-pool-{value}",
    )


def _target_pool(host: str, options: SweepOptions) -> PoolSettings | None:
    """The pool the target reports, or None while its metrics do not answer with one."""
    try:
        with httpx.Client(timeout=2, follow_redirects=True) as client:
            status, body = get_bounded(
                client, metrics_url_for(host, options.metrics_url), limit=MAX_METRICS_BYTES
            )
    except ScrapeError:
        return None
    if status != 200:
        return None
    try:
        pools = pool_settings(body.decode("utf-8", errors="replace"))
    except (ValueError, ArithmeticError):
        return None
    if options.pool is not None:
        return pools.get(options.pool)
    if len(pools) > 1:
        raise PoolscopeError(
            f"{host} exports several pools ({', '.join(pools)}); choose one with --pool NAME"
        )
    return next(iter(pools.values()), None)


@contextmanager
def _own_service(
    options: SweepOptions, pool_size: int, log_path: Path, reporter: Reporter
) -> Iterator[tuple[str | None, PoolSettings | None]]:
    """The step's own service (when there is a --serve-cmd), stopped afterwards."""
    if options.serve_command is None:
        yield options.host, None
        return
    secrets = passwords_of(options.database_url) if options.database_url else []
    reported: list[PoolSettings] = []

    def size(host: str) -> int | None:
        pool = _target_pool(host, options)
        if pool is not None:
            reported[:] = [pool]
        return None if pool is None else pool.pool_size

    service, host = start_own_service(
        options.serve_command, pool_size, log_path=log_path, reported_pool_size=size,
        secrets=secrets,
    )  # fmt: skip
    reporter.note(f"started the service (pid {service.pid}) at {host}: {log_path}")
    try:
        yield host, reported[0]
    finally:
        _stop(service, reporter)


def _stop(service: ManagedProcess, reporter: Reporter) -> None:
    service.stop(grace_seconds=10)
    reporter.note(f"stopped the service (pid {service.pid})")


def run_sweep(
    scenario: str | None, options: SweepOptions, *, reporter: Reporter | None = None
) -> SweepResult:
    """Play the steps and write the sweep file beside their run files.

    A sweep stopped by Ctrl-C, SIGTERM or a failing step still returns, its file marked
    partial; input that cannot be swept raises a one-line :class:`PoolscopeError` first.
    """
    reporter = reporter or NullReporter()
    plan = _plan(scenario, options)
    if options.host is not None:
        # Before anything runs: a target without pool metrics cannot be swept.
        inspect_target(options.host, metrics_url=options.metrics_url, pool=options.pool)
    started_at, clock = datetime.now(UTC), time.monotonic()
    stamp = started_at.strftime("%Y%m%dT%H%M%S")
    run_options = RunOptions(
        duration_seconds=options.duration_seconds,
        warmup_seconds=options.warmup_seconds,
        host=options.host,
        driver=options.driver,
        out_dir=options.out_dir,
        database_url=options.database_url,
        service_workers=options.service_workers,
        sample_interval=options.sample_interval,
        metrics_url=options.metrics_url,
        pool=options.pool,
    )
    steps: list[Step] = []
    drivers: list[str] = []  # as each step's run file recorded it
    warnings: list[str] = []
    partial_reason: str | None = None
    server_max: int | None = None
    masked = "(the service's own)"
    overflow = plan.max_overflow
    ahead = Ahead(
        lambda value: _step_play(plan, value).service_settings,
        driver=options.driver,
        workers=options.service_workers,
    )
    try:
        with sigterm_interrupts(), _database(plan, run_options, reporter) as database_url:
            ahead.database_url = database_url
            if database_url:
                masked = mask_url(database_url)
                server_max = max_connections(database_url)
            else:
                reporter.note("max_connections not checked: no --database-url for the target")
            for index, value in enumerate(plan.values, start=1):
                noun = "users" if plan.parameter == "users" else "pool size"
                reporter.note(f"step {index}/{len(plan.values)}: {noun} {value}")
                log_path = options.out_dir / f"{plan.name}-pool-{value}-{stamp}.service.log"
                with _own_service(options, value, log_path, reporter) as (host, reported):
                    if overflow is None and reported is not None:
                        overflow = reported.max_overflow or 0
                    if index == 1 and plan.parameter == "pool_size":
                        warning = connection_warning(
                            server_max, options.service_workers, plan.values[-1], overflow or 0
                        )
                        if warning:
                            warnings.append(warning)
                            reporter.note(f"warning: {warning}")
                    step_options = dataclasses.replace(run_options, host=host)
                    following = plan.values[index] if index < len(plan.values) else None
                    run, outcome = play(
                        _step_play(plan, value), step_options, database_url,
                        ahead.reporter(reporter, following), spawned=ahead.spawned(value),
                    )  # fmt: skip
                path = write_outcome(run, outcome, options.out_dir, reporter)
                if options.serve_command is not None:
                    # The service's whole output, named like its run file.
                    log_path.replace(path.with_name(f"{path.stem}.service.log"))
                step_run = load_run(path)
                drivers.append(step_run.configuration.driver)
                steps.append(step_from_run(step_run, path.name))
                if outcome.interrupted:
                    partial_reason = f"interrupted at {noun} {value}"
                    break
    except KeyboardInterrupt:  # Ctrl-C, or SIGTERM (sigterm_interrupts)
        partial_reason = partial_reason or f"interrupted after {len(steps)} step(s)"
    except PoolscopeError as error:
        partial_reason = f"stopped after {len(steps)} step(s): {error}"
    finally:
        ahead.close()
    failed = [f"{s.run_file}: {s.incomplete_reason}" for s in steps if not s.complete]
    if partial_reason is None and failed:
        partial_reason = "; ".join(failed)
    first = steps[0] if steps else None
    sweep = Sweep(
        scenario=None if options.locustfile else plan.name,
        locustfile=str(plan.play.locustfile) if options.locustfile else None,
        partial=partial_reason is not None,
        partial_reason=partial_reason,
        started_at=started_at,
        finished_at=datetime.now(UTC),
        wall_seconds=round(time.monotonic() - clock, 2),
        configuration=SweepConfiguration(
            parameter=plan.parameter,
            values=list(plan.values),
            duration_seconds=float(max(1, round(options.duration_seconds))),
            warmup_seconds=options.warmup_seconds,
            users=plan.play.users if plan.parameter == "pool_size" else None,
            pool_size=first.pool_size if plan.parameter == "users" and first else None,
            max_overflow=overflow or 0,
            target_wait_p95=options.target_wait_p95,
            driver=_recorded_driver(drivers, options),
            database_url=masked,
            service_workers=options.service_workers,
            host=options.host,
            serve_command=_masked_command(options.serve_command),
        ),
        max_connections=server_max,
        warnings=warnings,
        steps=steps,
        recommendation=recommend(steps, plan.parameter, options.target_wait_p95),
    )
    path = write_sweep(sweep, options.out_dir / f"{plan.name}-sweep-{stamp}.json")
    reporter.note(f"wrote {path}")
    return SweepResult(path=path, sweep=sweep)


@contextmanager
def _database(plan: _Plan, options: RunOptions, reporter: Reporter) -> Iterator[str | None]:
    """The sample service's database, started once for the sweep; a user's service has
    its own (``--database-url`` names it, to check max_connections)."""
    if plan.play.service_settings is None:
        yield options.database_url
        return
    with database_for(options, reporter) as database_url:
        yield database_url


def _recorded_driver(drivers: list[str], options: SweepOptions) -> str:
    """The driver the steps' runs recorded (read from the target where it tells it): the
    ``--driver`` option only drives the sample service poolscope starts."""
    known = list(dict.fromkeys(driver for driver in drivers if driver != "unknown"))
    if known:
        return ", ".join(known)
    if options.serve_command is None and options.host is None:
        return options.driver
    return "unknown"


def _masked_command(command: str | None) -> str | None:
    return None if command is None else redact(command)
