"""The run file: one scenario variant played once, as versioned JSON (``poolscope.run/1``).

``poolscope run`` writes these and ``poolscope compare`` reads them. Times are seconds
except Locust's latencies, which stay in milliseconds as Locust reports them.
A password never enters a run file: ``configuration.database_url`` is masked.
"""

from __future__ import annotations

import json
from datetime import UTC, datetime
from pathlib import Path

from pydantic import BaseModel, ConfigDict, Field, ValidationError, model_validator

from poolscope._errors import PoolscopeError
from poolscope.readings._files import read_regular_file
from poolscope.readings._percentiles import Histogram

__all__ = [
    "MAX_RUN_FILE_BYTES",
    "SCHEMA",
    "Configuration",
    "EndpointStats",
    "Environment",
    "Histogram",
    "LatencySummary",
    "LeakReport",
    "LocustTotals",
    "LocustfileRecord",
    "PoolSample",
    "PoolSummary",
    "RouteHolds",
    "Run",
    "RunFileError",
    "ScenarioCheck",
    "TimingSummary",
    "Warmup",
    "load_run",
    "write_atomically",
    "write_run",
]

SCHEMA = "poolscope.run/1"
# An hour's run sampled twice a second is a few MB; a file far beyond is no run of ours,
# and reading it whole (or a device endlessly) would take the memory first.
MAX_RUN_FILE_BYTES = 64 * 1024 * 1024


class RunFileError(PoolscopeError):
    """A file that is not a readable ``poolscope.run/1`` run file."""


class _Model(BaseModel):
    # JSON has no infinity: the +Inf histogram bound is written as the string "Infinity",
    # which reads back as float("inf").
    model_config = ConfigDict(frozen=True, extra="forbid", ser_json_inf_nan="strings")


class Configuration(_Model):
    """The target's pool settings (``pool_size``, ``max_overflow``, ``pool_timeout``,
    ``driver``) are read from the target itself where it tells them: its metrics, its
    ``GET /pool``. ``max_overflow`` -1 means no limit, as in SQLAlchemy."""

    database_url: str  # masked
    driver: str
    pool_size: int
    max_overflow: int
    pool_timeout: float | None
    leak_threshold: float | None = None
    users: int
    spawn_rate: float
    duration_seconds: float
    host: str
    processes: int = 1
    service_workers: int = 1
    pool: str | None = None  # the pool label recorded
    extra: dict[str, str | int | float | bool | None] = Field(default_factory=dict)


class Environment(_Model):
    poolscope: str
    python: str
    sqlalchemy: str
    locust: str
    postgresql: str | None = None
    platform: str
    cpus: int


class LatencySummary(_Model):
    """Milliseconds, as Locust reports them; None (JSON null) when no request completed,
    so nothing was measured."""

    min: float | None
    mean: float | None
    p50: float | None
    p95: float | None
    p99: float | None
    max: float | None


class EndpointStats(_Model):
    method: str
    name: str
    requests: int
    failures: int
    requests_per_second: float
    latency_ms: LatencySummary
    # Locust's own per-request record: rounded milliseconds -> count. Lets a report put
    # confidence intervals on the percentiles.
    response_times: dict[str, int] = Field(default_factory=dict)


class LocustTotals(_Model):
    requests: int
    failures: int
    requests_per_second: float
    latency_ms: LatencySummary
    endpoints: list[EndpointStats]
    response_times: dict[str, int] = Field(default_factory=dict)
    errors: dict[str, int] = Field(default_factory=dict)


class TimingSummary(_Model):
    """Seconds. Percentiles by nearest rank, read from the run's histogram (within 10 % of
    the truth in poolscope's fine buckets; see ``poolscope.readings._percentiles``)."""

    count: int
    sum: float
    p50: float | None
    p95: float | None
    p99: float | None
    max: float | None
    # The exact largest value; False: read from the buckets (and by older run files, the
    # bucket's upper bound).
    max_exact: bool = False


class LeakReport(_Model):
    """A connection held past the leak threshold, as the service's ``GET /pool`` named it."""

    route: str | None = None
    borrower: str  # the borrowing code's stack, innermost frame last
    age_seconds: float


class RouteHolds(_Model):
    """One route's connection holds during the run: how many, their seconds, and the
    seconds and number of statements in them. ``statement_seconds`` None: the target does
    not measure statements (no data, not 0)."""

    route: str
    holds: int
    held_seconds: float
    statement_seconds: float | None = None
    statements: int | None = None

    @property
    def mean_hold(self) -> float | None:
        return self.held_seconds / self.holds if self.holds else None

    @property
    def busy_share(self) -> float | None:
        """Time in statements / time held (0..1), None without data."""
        if self.statement_seconds is None or self.held_seconds <= 0:
            return None
        return min(1.0, self.statement_seconds / self.held_seconds)

    @property
    def idle_seconds(self) -> float | None:
        if self.statement_seconds is None:
            return None
        return max(0.0, self.held_seconds - self.statement_seconds)


class PoolSummary(_Model):
    wait: TimingSummary
    use: TimingSummary
    wait_histogram: Histogram | None = None
    use_histogram: Histogram | None = None
    checkouts: int
    timeouts: int
    connects: int
    pools_created: int
    invalidations: int = 0
    leaks: int = 0
    gc_reclaimed: int = 0
    max_used: int
    max_idle: int
    max_pending: int
    max_overflow: int
    max_leaked: int = 0
    final_used: int
    final_overflow: int
    leak_reports: list[LeakReport] = Field(default_factory=list)
    # The thread pool that runs sync routes, when the target exports it (poolscope.fastapi).
    thread_limit: int | None = None
    max_threads_busy: int | None = None
    max_threads_waiting: int | None = None
    # Sampled time during which every busy thread waited for a connection while
    # connections were checked out: their requests had no thread to finish on.
    starved_seconds: float = 0.0
    starved_idle_connections: int = 0
    # Each hold's seconds outside statements (held idle); None: the target does not
    # measure statements.
    idle: TimingSummary | None = None
    idle_histogram: Histogram | None = None
    # Per route, most time held first.
    routes: list[RouteHolds] = Field(default_factory=list)

    @property
    def statement_seconds(self) -> float | None:
        measured = [r.statement_seconds for r in self.routes if r.statement_seconds is not None]
        return sum(measured) if measured else None

    @property
    def busy_share(self) -> float | None:
        """Time in statements / time held over every route that measured it."""
        measured = [r for r in self.routes if r.statement_seconds is not None]
        held = sum(r.held_seconds for r in measured)
        if not measured or held <= 0:
            return None
        return min(1.0, sum(r.statement_seconds or 0.0 for r in measured) / held)


class PoolSample(_Model):
    """One scrape of the service's ``/metrics``; counters are cumulative since the run
    started, percentiles cover the interval since the previous sample."""

    t: float  # seconds since the run started
    used: int
    idle: int
    pending: int
    overflow: int
    leaked: int = 0
    checkouts: int
    timeouts: int
    connects: int
    pools_created: int
    wait_count: int
    wait_sum: float
    wait_p50: float | None = None
    wait_p95: float | None = None
    wait_p99: float | None = None
    threads_busy: int | None = None
    threads_waiting: int | None = None


class LocustfileRecord(_Model):
    """The locustfile a ``poolscope run --locustfile`` played."""

    path: str
    sha256: str
    user_classes: list[str]  # the classes played; empty: as Locust picks (all of them)


class ScenarioCheck(_Model):
    passed: bool
    verdict: str
    details: list[str] = Field(default_factory=list)


class Warmup(_Model):
    """``--warmup``: the run's ``locust`` and ``pool`` figures cover only the time after
    it; here are the whole run's. ``ended_at`` is the samples' ``t`` at which the warm-up
    ended (None: the run stopped before, and the run's figures are the whole run's).
    Locust's minimum and maximum latency after a warm-up are null: Locust keeps them for
    the whole run only."""

    seconds: float
    ended_at: float | None
    locust: LocustTotals | None = None
    pool: PoolSummary | None = None


class Run(_Model):
    schema_: str = Field(default=SCHEMA, alias="schema")
    scenario: str
    variant: str
    complete: bool
    incomplete_reason: str | None = None
    started_at: datetime
    finished_at: datetime
    configuration: Configuration
    environment: Environment
    locust: LocustTotals | None
    pool: PoolSummary | None
    samples: list[PoolSample]
    check: ScenarioCheck | None = None
    locustfile: LocustfileRecord | None = None
    warmup: Warmup | None = None

    model_config = ConfigDict(
        frozen=True, extra="forbid", populate_by_name=True, ser_json_inf_nan="strings"
    )

    @model_validator(mode="after")
    def _finished_after_started(self) -> Run:
        # poolscope writes UTC; a time without a zone is read as UTC too.
        started, finished = (
            moment if moment.tzinfo else moment.replace(tzinfo=UTC)
            for moment in (self.started_at, self.finished_at)
        )
        if finished < started:
            raise ValueError("finished_at is before started_at")
        return self

    def samples_after_warmup(self) -> list[PoolSample]:
        """The samples taken after the warm-up (all of them without one)."""
        ended = self.warmup.ended_at if self.warmup is not None else None
        return self.samples if ended is None else [s for s in self.samples if s.t >= ended]

    def to_json(self) -> str:
        return self.model_dump_json(by_alias=True, indent=2)


def write_run(run: Run, path: Path) -> Path:
    return write_atomically(path, run.to_json() + "\n")


def write_atomically(path: Path, text: str) -> Path:
    """A reader never sees half a file: written beside, then renamed over ``path``."""
    path.parent.mkdir(parents=True, exist_ok=True)
    partial = path.with_name(path.name + ".partial")
    partial.write_text(text)
    partial.replace(path)
    return path


def load_run(path: Path) -> Run:
    """Read and validate one run file; every failure is a one-line ``RunFileError``."""
    data = read_regular_file(path, kind="run file", limit=MAX_RUN_FILE_BYTES, error=RunFileError)
    try:
        raw = data.decode()
    except UnicodeDecodeError as error:
        raise RunFileError(f"{path}: cannot be read ({error})") from None
    try:
        data = json.loads(raw)
    except json.JSONDecodeError as error:
        raise RunFileError(
            f"{path}: not JSON, or truncated ({error.msg} at line {error.lineno})"
        ) from None
    if not isinstance(data, dict) or "schema" not in data:
        raise RunFileError(f"{path}: not a poolscope run file (no schema field)")
    schema = data["schema"]
    if schema != SCHEMA:
        raise RunFileError(
            f"{path}: unknown run file schema {schema!r}; this poolscope reads {SCHEMA}"
        )
    try:
        return Run.model_validate(data)
    except ValidationError as error:
        first = error.errors()[0]
        location = ".".join(str(part) for part in first["loc"])
        where = f"{location}: " if location else ""
        message = first["msg"].removeprefix("Value error, ")
        raise RunFileError(
            f"{path}: invalid run file: {where}{message} ({error.error_count()} problem(s))"
        ) from None
