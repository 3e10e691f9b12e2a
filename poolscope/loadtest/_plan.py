"""What one play of a Locust test is, the options of ``poolscope run``, and the run file's
``configuration`` they add up to with what the target says about itself."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path

from poolscope._urls import Driver, mask_url
from poolscope.loadtest._catalog import Setting
from poolscope.loadtest._children import MasterOptions
from poolscope.loadtest._target import Target
from poolscope.readings import Configuration, LocustfileRecord

__all__ = ["Play", "RunOptions", "configuration", "master_options"]


@dataclass(frozen=True, kw_only=True)
class RunOptions:
    users: int | None = None  # default: the scenario's
    spawn_rate: float | None = None
    duration_seconds: float = 30.0
    # Played before the duration; the run's figures cover only the duration after it.
    warmup_seconds: float = 0.0
    host: str | None = None  # a running service; else poolscope starts one per variant
    driver: Driver = "psycopg2"
    out_dir: Path = Path("runs")
    processes: int = 1  # Locust processes (its own --processes mode)
    database_url: str | None = None  # else $POOLSCOPE_DATABASE_URL, else the embedded server
    service_workers: int = 1
    sample_interval: float = 0.5
    metrics_url: str | None = None  # default: HOST/metrics
    pool: str | None = None  # the pool to record when the target exports several
    # Locust master/worker: the master runs here, headless, and waits for this many
    # `locust --worker` processes, started by the user, before the load starts.
    expect_workers: int = 0
    master_bind_host: str = "127.0.0.1"
    master_port: int = 5557
    workers_wait_seconds: float = 60.0


@dataclass(frozen=True, kw_only=True)
class Play:
    """One Locust test played once, recorded as one run file."""

    scenario: str
    variant: str
    locustfile: Path
    user_classes: tuple[str, ...]  # empty: all of the locustfile's, as Locust picks
    users: int
    spawn_rate: float
    service_settings: Mapping[str, Setting] | None = None  # start `poolscope serve` with these
    file_prefix: str | None = None  # default: SCENARIO-VARIANT
    record: LocustfileRecord | None = None  # for a user's own locustfile


def master_options(options: RunOptions) -> MasterOptions | None:
    if not options.expect_workers:
        return None
    return MasterOptions(
        expect_workers=options.expect_workers,
        bind_host=options.master_bind_host,
        port=options.master_port,
        wait_seconds=options.workers_wait_seconds,
    )


def configuration(
    plan: Play,
    options: RunOptions,
    target: Target | None,
    settings: Mapping[str, Setting],
    database_url: str | None,
    host: str | None,
) -> Configuration:
    """The target's own pool settings where it told them; the scenario's asked-for ones
    only when the target could not be read."""
    pool_size = int(settings.get("pool_size") or 0)
    max_overflow = int(settings.get("max_overflow") or 0)
    timeout = _optional_float(settings.get("pool_timeout"))
    leak_threshold = _optional_float(settings.get("leak_threshold"))
    driver: str = options.driver if plan.service_settings is not None else "unknown"
    if target is not None:
        pool_size = target.pool_size
        max_overflow = -1 if target.max_overflow is None else target.max_overflow
        timeout = target.pool_timeout if target.pool_timeout is not None else timeout
        driver = target.driver or driver
        if target.leak_threshold is not None:
            leak_threshold = target.leak_threshold
    extra: dict[str, str | int | float | bool | None] = {
        "user_classes": ",".join(plan.user_classes),
        "service": "started by poolscope run" if plan.service_settings else "external",
    }
    if target is not None:
        extra["metrics_url"] = target.metrics_url
    if options.expect_workers:
        extra["locust_workers"] = options.expect_workers
    return Configuration(
        database_url=mask_url(database_url) if database_url else "(the service's own)",
        driver=driver,
        pool_size=pool_size,
        max_overflow=max_overflow,
        pool_timeout=timeout,
        leak_threshold=leak_threshold,
        users=plan.users,
        spawn_rate=plan.spawn_rate,
        duration_seconds=float(max(1, round(options.duration_seconds))),
        host=host or "",
        processes=options.processes,
        service_workers=options.service_workers,
        pool=target.pool if target is not None else None,
        extra=extra,
    )


def _optional_float(value: int | float | str | None) -> float | None:
    return None if value is None else float(value)
