"""The load-test runner: plays a Locust test against a service, samples its metrics and
writes a run file. Locust itself runs in child processes, never in this one.

The run file's model and the metric readers live in ``poolscope.readings``; the names
below that come from there stay importable from here, as they always were.
"""

from __future__ import annotations

from poolscope.loadtest._catalog import Setting, find_scenario, list_scenarios, serve_flags
from poolscope.loadtest._environment import max_connections, passwords_of
from poolscope.loadtest._judge import DEFAULT_MAX_FAILURE_RATE, DEFAULT_MIN_REQUESTS, judge_run
from poolscope.loadtest._launch import start_service
from poolscope.loadtest._locust_result import LiveTotals
from poolscope.loadtest._locustfile import describe_locustfile, run_locustfile
from poolscope.loadtest._plan import RunPlan
from poolscope.loadtest._processes import ManagedProcess
from poolscope.loadtest._progress import NullReporter, Reporter, RichReporter, render_summary
from poolscope.loadtest._run import (
    RunIncompleteError,
    RunOptions,
    database_for,
    play,
    run_scenario,
    sigterm_interrupts,
    write_outcome,
)
from poolscope.loadtest._target import (
    RunInputError,
    check_routes,
    inspect_target,
    metrics_url_for,
    reported_pool,
)
from poolscope.readings import (
    SCHEMA,
    Configuration,
    EndpointStats,
    Environment,
    Histogram,
    LatencySummary,
    LeakReport,
    LocustfileRecord,
    LocustTotals,
    PoolSample,
    PoolSnapshot,
    PoolSummary,
    RouteHolds,
    Run,
    RunFileError,
    ScenarioCheck,
    TimingSummary,
    Warmup,
    count_above,
    load_run,
    parse_metrics,
    starvation_cause,
    write_run,
)

__all__ = [
    "DEFAULT_MAX_FAILURE_RATE",
    "DEFAULT_MIN_REQUESTS",
    "SCHEMA",
    "Configuration",
    "EndpointStats",
    "Environment",
    "Histogram",
    "LatencySummary",
    "LeakReport",
    "LiveTotals",
    "LocustTotals",
    "LocustfileRecord",
    "ManagedProcess",
    "NullReporter",
    "PoolSample",
    "PoolSnapshot",
    "PoolSummary",
    "Reporter",
    "RichReporter",
    "RouteHolds",
    "Run",
    "RunFileError",
    "RunIncompleteError",
    "RunInputError",
    "RunOptions",
    "RunPlan",
    "ScenarioCheck",
    "Setting",
    "TimingSummary",
    "Warmup",
    "check_routes",
    "count_above",
    "database_for",
    "describe_locustfile",
    "find_scenario",
    "inspect_target",
    "judge_run",
    "list_scenarios",
    "load_run",
    "max_connections",
    "metrics_url_for",
    "parse_metrics",
    "passwords_of",
    "play",
    "render_summary",
    "reported_pool",
    "run_locustfile",
    "run_scenario",
    "serve_flags",
    "sigterm_interrupts",
    "start_service",
    "starvation_cause",
    "write_outcome",
    "write_run",
]
