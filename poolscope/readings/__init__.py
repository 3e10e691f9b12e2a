"""Reading what the exporters wrote: a scrape of ``/metrics`` parsed into a snapshot, the
histogram reader and its percentiles, the sampler that reads a target during a run, the
run file's model, and thread starvation told apart from pool exhaustion.

``loadtest``, ``compare``, ``sweep`` and the Locust plugin read metrics through these names.
(The writer's side, the exporters' buckets, is ``poolscope.metrics`` and the core.)
"""

from __future__ import annotations

from poolscope.readings._percentiles import (
    Histogram,
    count_above,
)
from poolscope.readings._runfile import (
    SCHEMA,
    Configuration,
    EndpointStats,
    Environment,
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
    load_run,
    write_atomically,
    write_run,
)
from poolscope.readings._sampler import (
    MetricsSampler,
    TimedSnapshot,
    samples_since,
    summarize_pool,
    timing_summary,
)
from poolscope.readings._scrape import (
    PoolSettings,
    PoolSnapshot,
    parse_metrics,
    pool_settings,
)
from poolscope.readings._starvation import (
    starvation_cause,
    starved_idle_connections,
    starved_seconds,
)

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
    "MetricsSampler",
    "PoolSample",
    "PoolSettings",
    "PoolSnapshot",
    "PoolSummary",
    "Run",
    "RunFileError",
    "ScenarioCheck",
    "TimedSnapshot",
    "TimingSummary",
    "count_above",
    "load_run",
    "parse_metrics",
    "pool_settings",
    "samples_since",
    "starvation_cause",
    "starved_idle_connections",
    "starved_seconds",
    "summarize_pool",
    "timing_summary",
    "write_atomically",
    "write_run",
]
