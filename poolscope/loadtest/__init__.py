"""The load-test runner: plays a Locust test against a service, samples its metrics and
writes a run file. Locust itself runs in child processes, never in this one."""

from __future__ import annotations

from poolscope.loadtest._held_idle import (
    format_share,
    held_idle_cause,
    held_idle_route,
    mostly_held_idle,
    route_lines,
)
from poolscope.loadtest._histogram import count_above
from poolscope.loadtest._locustfile import run_locustfile
from poolscope.loadtest._run import RunIncompleteError, RunOptions, run_scenario
from poolscope.loadtest._runfile import (
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
    PoolSummary,
    RouteHolds,
    Run,
    RunFileError,
    ScenarioCheck,
    TimingSummary,
    load_run,
    write_run,
)
from poolscope.loadtest._scrape import PoolSnapshot, parse_metrics
from poolscope.loadtest._starvation import starvation_cause
from poolscope.loadtest._target import RunInputError

__all__ = [
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
    "PoolSnapshot",
    "PoolSummary",
    "RouteHolds",
    "Run",
    "RunFileError",
    "RunIncompleteError",
    "RunInputError",
    "RunOptions",
    "ScenarioCheck",
    "TimingSummary",
    "count_above",
    "format_share",
    "held_idle_cause",
    "held_idle_route",
    "load_run",
    "mostly_held_idle",
    "parse_metrics",
    "route_lines",
    "run_locustfile",
    "run_scenario",
    "starvation_cause",
    "write_run",
]
