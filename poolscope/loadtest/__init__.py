"""The load-test runner: plays a Locust test against a service, samples its metrics and
writes a run file. Locust itself runs in child processes, never in this one."""

from __future__ import annotations

from poolscope.loadtest._histogram import count_above
from poolscope.loadtest._judge import DEFAULT_MAX_FAILURE_RATE, DEFAULT_MIN_REQUESTS, judge_run
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
    Run,
    RunFileError,
    ScenarioCheck,
    TimingSummary,
    Warmup,
    load_run,
    write_run,
)
from poolscope.loadtest._scrape import PoolSnapshot, parse_metrics
from poolscope.loadtest._starvation import starvation_cause
from poolscope.loadtest._target import RunInputError

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
    "LocustTotals",
    "LocustfileRecord",
    "PoolSample",
    "PoolSnapshot",
    "PoolSummary",
    "Run",
    "RunFileError",
    "RunIncompleteError",
    "RunInputError",
    "RunOptions",
    "ScenarioCheck",
    "TimingSummary",
    "Warmup",
    "count_above",
    "judge_run",
    "load_run",
    "parse_metrics",
    "run_locustfile",
    "run_scenario",
    "starvation_cause",
    "write_run",
]
