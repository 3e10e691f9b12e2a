"""``poolscope sweep``: one run per pool size against the sample service, then the sweep file.

The database starts once for the whole sweep; each step starts ``poolscope serve`` with
the step's pool size and the scenario's other settings, plays the scenario, and stops the
service. Ctrl-C (or SIGTERM) stops what is running and still writes the sweep file,
marked partial, with the steps that finished.
"""

from __future__ import annotations

import dataclasses
import time
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path

from poolscope._errors import PoolscopeError
from poolscope._urls import Driver, mask_url
from poolscope.loadtest import load_run
from poolscope.loadtest._catalog import ScenarioInfo, find_scenario
from poolscope.loadtest._environment import max_connections
from poolscope.loadtest._progress import NullReporter, Reporter
from poolscope.loadtest._run import RunOptions, database_for, record_variant, sigterm_interrupts
from poolscope.sweep._figures import step_from_run
from poolscope.sweep._model import Step, Sweep, SweepConfiguration, write_sweep
from poolscope.sweep._recommend import recommend

__all__ = ["SweepOptions", "SweepResult", "connection_warning", "sweep_scenario"]


@dataclass(frozen=True, kw_only=True)
class SweepOptions:
    pool_sizes: tuple[int, ...] = (1, 2, 4, 8, 16)
    users: int | None = None  # default: the scenario's
    duration_seconds: float = 20.0
    target_wait_p95: float = 0.05
    driver: Driver = "psycopg2"
    out_dir: Path = Path("sweeps")
    database_url: str | None = None  # else $POOLSCOPE_DATABASE_URL, else the embedded server
    service_workers: int = 1
    # Twice as often as `poolscope run`: more samples of the used gauge in short steps.
    sample_interval: float = 0.25


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


def _step_scenario(scenario: ScenarioInfo, pool_size: int) -> ScenarioInfo:
    """The scenario with every variant's pool size set to ``pool_size``."""
    variants = tuple(
        dataclasses.replace(
            variant, settings={k: v for k, v in variant.settings.items() if k != "pool_size"}
        )
        for variant in scenario.variants
    )
    return dataclasses.replace(
        scenario, settings={**scenario.settings, "pool_size": pool_size}, variants=variants
    )


def sweep_scenario(
    name: str, options: SweepOptions, *, reporter: Reporter | None = None
) -> SweepResult:
    """Play scenario ``name`` (its first variant) once per pool size; write the sweep file.

    A sweep stopped by Ctrl-C or a failing step still returns, its file marked partial.
    """
    reporter = reporter or NullReporter()
    if not options.pool_sizes:
        raise PoolscopeError("give at least one pool size")
    scenario = find_scenario(name)
    variant = scenario.variants[0]
    users = options.users or scenario.users
    overflow = int(scenario.settings_for(variant).get("max_overflow") or 0)
    sizes = sorted(set(options.pool_sizes))
    started_at, clock = datetime.now(UTC), time.monotonic()
    stamp = started_at.strftime("%Y%m%dT%H%M%S")
    run_options = RunOptions(
        users=users,
        duration_seconds=options.duration_seconds,
        driver=options.driver,
        out_dir=options.out_dir,
        database_url=options.database_url,
        service_workers=options.service_workers,
        sample_interval=options.sample_interval,
    )
    steps: list[Step] = []
    warnings: list[str] = []
    partial_reason: str | None = None
    server_max: int | None = None
    masked = "(none)"
    try:
        with sigterm_interrupts(), database_for(run_options, reporter) as database_url:
            if database_url:
                masked = mask_url(database_url)
                server_max = max_connections(database_url)
            warning = connection_warning(server_max, options.service_workers, sizes[-1], overflow)
            if warning:
                warnings.append(warning)
                reporter.note(f"warning: {warning}")
            for index, size in enumerate(sizes, start=1):
                reporter.note(f"step {index}/{len(sizes)}: pool size {size}, {users} users")
                path, _failure, interrupted = record_variant(
                    _step_scenario(scenario, size), variant, run_options, database_url,
                    reporter, path=options.out_dir / f"{name}-pool-{size}-{stamp}.json",
                )  # fmt: skip
                steps.append(step_from_run(load_run(path), path.name))
                if interrupted:
                    partial_reason = f"interrupted during the step at pool size {size}"
                    break
    except KeyboardInterrupt:  # Ctrl-C, or SIGTERM (sigterm_interrupts)
        partial_reason = partial_reason or f"interrupted after {len(steps)} step(s)"
    failed = [f"pool size {s.pool_size}: {s.incomplete_reason}" for s in steps if not s.complete]
    if partial_reason is None and failed:
        partial_reason = "; ".join(failed)
    sweep = Sweep(
        scenario=name,
        partial=partial_reason is not None,
        partial_reason=partial_reason,
        started_at=started_at,
        finished_at=datetime.now(UTC),
        wall_seconds=round(time.monotonic() - clock, 2),
        configuration=SweepConfiguration(
            parameter="pool_size",
            values=sizes,
            duration_seconds=float(max(1, round(options.duration_seconds))),
            users=users,
            pool_size=None,
            max_overflow=overflow,
            target_wait_p95=options.target_wait_p95,
            driver=options.driver,
            database_url=masked,
            service_workers=options.service_workers,
        ),
        max_connections=server_max,
        warnings=warnings,
        steps=steps,
        recommendation=recommend(steps, "pool_size", options.target_wait_p95),
    )
    path = write_sweep(sweep, options.out_dir / f"{name}-sweep-{stamp}.json")
    reporter.note(f"wrote {path}")
    return SweepResult(path=path, sweep=sweep)
