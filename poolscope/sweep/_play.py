"""The sweep loop: one run per pool size (or per user count), then the sweep file.

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

from poolscope._errors import PoolscopeError
from poolscope._redact import redact
from poolscope._urls import mask_url
from poolscope.loadtest import (
    ManagedProcess,
    NullReporter,
    Reporter,
    RunOptions,
    database_for,
    inspect_target,
    load_run,
    max_connections,
    passwords_of,
    play,
    reported_pool,
    sigterm_interrupts,
    write_outcome,
)
from poolscope.readings import PoolSettings
from poolscope.sweep._ahead import ServicesAhead
from poolscope.sweep._figures import step_from_run
from poolscope.sweep._model import Step, Sweep, SweepConfiguration, write_sweep
from poolscope.sweep._own_service import start_own_service
from poolscope.sweep._plan import SweepOptions, SweepPlan, connection_warning, plan_sweep, step_plan
from poolscope.sweep._recommend import recommend

__all__ = ["SweepResult", "run_sweep"]


@dataclass(frozen=True, kw_only=True)
class SweepResult:
    path: Path  # the sweep file
    sweep: Sweep


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
        pool = reported_pool(host, metrics_url=options.metrics_url, pool=options.pool)
        if pool is not None:
            reported[:] = [pool]
        return None if pool is None else pool.pool_size

    service, host = start_own_service(
        options.serve_command,
        pool_size,
        log_path=log_path,
        reported_pool_size=size,
        secrets=secrets,
    )
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
    plan = plan_sweep(scenario, options)
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
    ahead = ServicesAhead(
        lambda value: step_plan(plan, value).service_settings,
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
                        step_plan(plan, value),
                        step_options,
                        database_url,
                        ahead.reporter(reporter, following),
                        spawned=ahead.spawned(value),
                    )
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
def _database(plan: SweepPlan, options: RunOptions, reporter: Reporter) -> Iterator[str | None]:
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
