"""Planning a sweep: its options, what every step shares (``SweepPlan``), each step's run
plan, and the warning for steps the server has too few connections for."""

from __future__ import annotations

import dataclasses
from dataclasses import dataclass
from pathlib import Path

from poolscope._errors import PoolscopeError
from poolscope._urls import Driver
from poolscope.loadtest import (
    LocustfileRecord,
    RunPlan,
    check_routes,
    describe_locustfile,
    find_scenario,
)
from poolscope.sweep._model import Parameter

__all__ = [
    "DEFAULT_USERS",
    "DEFAULT_USER_STEPS",
    "SweepOptions",
    "SweepPlan",
    "connection_warning",
    "plan_sweep",
    "step_plan",
]

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
class SweepPlan:
    """What every step shares; a step changes the pool size or the users."""

    name: str  # in file names
    play: RunPlan  # users and service settings are set per step
    parameter: Parameter
    values: tuple[int, ...]
    max_overflow: int | None  # None: read from the target


def plan_sweep(scenario: str | None, options: SweepOptions) -> SweepPlan:
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
        base = RunPlan(
            scenario=name,
            variant="sweep",
            locustfile=info.path,
            user_classes=options.user_classes,
            users=DEFAULT_USERS,
            spawn_rate=float(DEFAULT_USERS),
            record=LocustfileRecord(
                path=str(info.path), sha256=info.sha256, user_classes=list(options.user_classes)
            ),
        )
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
        base = RunPlan(
            scenario=found.name,
            variant=variant.name,
            locustfile=found.locustfile,
            user_classes=variant.user_classes,
            users=found.users,
            spawn_rate=found.spawn_rate,
            service_settings=None if options.serve_command or options.host else settings,
        )
        overflow = None if base.service_settings is None else int(settings.get("max_overflow") or 0)
    if parameter == "users":
        values = tuple(sorted(set(options.users or DEFAULT_USER_STEPS)))
    else:
        values = tuple(sorted(set(options.pool_sizes)))
        if options.users:
            base = dataclasses.replace(base, users=options.users[0])
    if not values:
        raise PoolscopeError("give at least one step")
    return SweepPlan(
        name=name, play=base, parameter=parameter, values=values, max_overflow=overflow
    )


def step_plan(plan: SweepPlan, value: int) -> RunPlan:
    if plan.parameter == "users":
        return dataclasses.replace(
            plan.play,
            users=value,
            spawn_rate=max(plan.play.spawn_rate, float(value)),
            file_prefix=f"{plan.name}-users-{value}",
        )
    settings = plan.play.service_settings
    return dataclasses.replace(
        plan.play,
        service_settings=None if settings is None else {**settings, "pool_size": value},
        file_prefix=f"{plan.name}-pool-{value}",
    )
