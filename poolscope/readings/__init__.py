"""Reading what the exporters wrote: a scrape of ``/metrics`` parsed into a snapshot, the
histogram reader and its percentiles, the sampler that reads a target during a run, the
run file's model, thread starvation and connections held idle told apart from pool
exhaustion; a target's
answers read within a size and a deadline, and text from outside (a run file, a target)
made safe to show in a terminal; a file a user names read only when it is a regular
file within a size.

``loadtest``, ``compare``, ``sweep`` and the Locust plugin read metrics through these names.
(The writer's side, the exporters' buckets, is ``poolscope.metrics`` and the core.)
"""

from __future__ import annotations

from poolscope.readings._bounded import (
    MAX_METRICS_BYTES,
    MAX_POOL_BYTES,
    SCRAPE_SECONDS,
    ScrapeError,
    get_bounded,
    read_within,
)
from poolscope.readings._files import read_regular_file
from poolscope.readings._held_idle import (
    format_share,
    held_idle_cause,
    held_idle_route,
    held_idle_routes,
    mostly_held_idle,
    route_figures,
    route_lines,
)
from poolscope.readings._no_data import NO_DATA
from poolscope.readings._percentiles import (
    Histogram,
    count_above,
)
from poolscope.readings._runfile import (
    MAX_RUN_FILE_BYTES,
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
    RouteHolds,
    Run,
    RunFileError,
    ScenarioCheck,
    TimingSummary,
    Warmup,
    load_run,
    write_atomically,
    write_run,
)
from poolscope.readings._sampler import (
    COUNTERS,
    MetricsSampler,
    TimedSnapshot,
    counter_increases,
    counters_reset,
    route_holds,
    samples_since,
    summarize_pool,
    timing_summary,
)
from poolscope.readings._scrape import (
    PoolSettings,
    PoolSnapshot,
    RouteTotals,
    parse_metrics,
    pool_settings,
)
from poolscope.readings._starvation import (
    starvation_cause,
    starved_idle_connections,
    starved_seconds,
)
from poolscope.readings._terminal import (
    LINE_LIMIT,
    json_visible,
    literal,
    one_line,
    print_unbroken,
    shorten,
    visible,
)

__all__ = [
    "COUNTERS",
    "LINE_LIMIT",
    "MAX_METRICS_BYTES",
    "MAX_POOL_BYTES",
    "MAX_RUN_FILE_BYTES",
    "NO_DATA",
    "SCHEMA",
    "SCRAPE_SECONDS",
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
    "RouteHolds",
    "RouteTotals",
    "Run",
    "RunFileError",
    "ScenarioCheck",
    "ScrapeError",
    "TimedSnapshot",
    "TimingSummary",
    "Warmup",
    "count_above",
    "counter_increases",
    "counters_reset",
    "format_share",
    "get_bounded",
    "held_idle_cause",
    "held_idle_route",
    "held_idle_routes",
    "json_visible",
    "literal",
    "load_run",
    "mostly_held_idle",
    "one_line",
    "parse_metrics",
    "pool_settings",
    "print_unbroken",
    "read_regular_file",
    "read_within",
    "route_figures",
    "route_holds",
    "route_lines",
    "samples_since",
    "shorten",
    "starvation_cause",
    "starved_idle_connections",
    "starved_seconds",
    "summarize_pool",
    "timing_summary",
    "visible",
    "write_atomically",
    "write_run",
]
