"""The sweep file: one measurement of a service at several pool sizes (or user counts), as
versioned JSON (``poolscope.sweep/1``) beside the run files of its steps.

Times are seconds except Locust's latencies, which stay in milliseconds as Locust reports
them. A password never enters a sweep file: the database URL is masked.
"""

from __future__ import annotations

import json
from datetime import datetime
from pathlib import Path
from typing import Literal

from pydantic import BaseModel, ConfigDict, Field, ValidationError

from poolscope._errors import PoolscopeError
from poolscope.readings import (
    MAX_RUN_FILE_BYTES,
    RouteHolds,
    read_regular_file,
    write_atomically,
)

__all__ = [
    "SCHEMA",
    "LittlesLaw",
    "Parameter",
    "Recommendation",
    "Resource",
    "Step",
    "Sweep",
    "SweepConfiguration",
    "SweepFileError",
    "load_sweep",
    "write_sweep",
]

SCHEMA = "poolscope.sweep/1"

Parameter = Literal["pool_size", "users"]
Resource = Literal["pool", "threads", "database/CPU"]


class SweepFileError(PoolscopeError):
    """A file that is not a readable ``poolscope.sweep/1`` sweep file."""


class _Model(BaseModel):
    model_config = ConfigDict(frozen=True, extra="forbid")


class Step(_Model):
    """One run of the sweep and the figures the recommendation is made from."""

    pool_size: int
    users: int
    run_file: str  # relative to the sweep file's directory
    complete: bool
    incomplete_reason: str | None = None
    requests: int
    failures: int
    throughput: float  # requests per second, as Locust counted them
    latency_p50_ms: float | None
    latency_p95_ms: float | None
    # Estimated from the pool's wait-time histogram (as histogram_quantile does).
    wait_p50: float | None
    wait_p95: float | None
    checkouts: int
    # Checkouts per second while the load ran, from the sampled counter.
    checkout_rate: float | None
    # Mean time a connection was held: the use-time histogram's exact sum / count.
    mean_use: float | None
    # The sampled "used" gauge averaged over the same window as checkout_rate.
    mean_used: float | None
    max_used: int
    max_pending: int
    pool_limit: int  # pool_size + max_overflow
    timeouts: int
    max_busy_threads: int | None = None
    thread_limit: int | None = None
    # Time in statements / time held, over every route (None: not measured), and the
    # route holding connections idle in words, when one does.
    busy_share: float | None = None
    held_idle: str | None = None
    # Most of the time connections were held, routes held them idle.
    mostly_held_idle: bool = False
    # Per route: holds, their time and their time in statements.
    routes: list[RouteHolds] = Field(default_factory=list)

    @property
    def littles_busy(self) -> float | None:
        """L = λ·W: connections busy on average, by Little's law."""
        if self.checkout_rate is None or self.mean_use is None:
            return None
        return self.checkout_rate * self.mean_use

    def value(self, parameter: Parameter) -> int:
        return self.pool_size if parameter == "pool_size" else self.users


class LittlesLaw(_Model):
    pool_size: int
    users: int
    checkout_rate: float  # λ, per second
    mean_use: float  # W, seconds
    busy: float  # L = λ·W
    measured_mean_used: float | None  # the sampled gauge, for comparison
    measured_max_used: int


class Recommendation(_Model):
    parameter: Parameter
    target_wait_p95: float
    # Pool-size sweeps: the smallest size within 5 % of the best throughput whose wait p95
    # is under the target. User sweeps: the most users whose wait p95 is under the target.
    recommended: int | None
    best: int | None  # the step with the highest throughput
    plateau: int | None  # where throughput stops rising; None while it still rises
    littles_law: LittlesLaw | None
    saturated: Resource | None  # only when no step meets the target
    text: str
    # Connections were mostly held idle: no pool size is recommended, this says why.
    held_idle: str | None = None


class SweepConfiguration(_Model):
    parameter: Parameter
    values: list[int]
    duration_seconds: float
    warmup_seconds: float = 0.0  # each step's, before its duration; not in its figures
    users: int | None  # pool-size sweeps: the users of every step
    pool_size: int | None  # user sweeps: the target's pool size, as it reports it
    max_overflow: int
    target_wait_p95: float
    driver: str
    database_url: str  # masked
    service_workers: int
    host: str | None = None  # a running target (user sweeps)
    serve_command: str | None = None  # a user's service, started per step


class Sweep(_Model):
    schema_: str = Field(default=SCHEMA, alias="schema")
    scenario: str | None
    locustfile: str | None = None
    partial: bool
    partial_reason: str | None = None
    started_at: datetime
    finished_at: datetime
    wall_seconds: float
    configuration: SweepConfiguration
    max_connections: int | None  # the database server's, read before the sweep
    warnings: list[str] = Field(default_factory=list)
    steps: list[Step]
    recommendation: Recommendation | None

    model_config = ConfigDict(frozen=True, extra="forbid", populate_by_name=True)

    def to_json(self) -> str:
        return self.model_dump_json(by_alias=True, indent=2)


def write_sweep(sweep: Sweep, path: Path) -> Path:
    return write_atomically(path, sweep.to_json() + "\n")


def load_sweep(path: Path) -> Sweep:
    """Read and validate one sweep file; every failure is a one-line ``SweepFileError``."""
    # A sweep file holds less than the run files of its steps: the same bound.
    raw = read_regular_file(path, kind="sweep file", limit=MAX_RUN_FILE_BYTES, error=SweepFileError)
    try:
        data = json.loads(raw.decode())
    except (UnicodeDecodeError, json.JSONDecodeError, RecursionError) as error:
        raise SweepFileError(f"{path}: cannot be read as JSON ({error})") from None
    if not isinstance(data, dict) or data.get("schema") != SCHEMA:
        raise SweepFileError(f"{path}: not a {SCHEMA} sweep file")
    try:
        return Sweep.model_validate(data)
    except ValidationError as error:
        first = error.errors()[0]
        where = ".".join(str(part) for part in first["loc"])
        raise SweepFileError(f"{path}: invalid sweep file: {where}: {first['msg']}") from None
