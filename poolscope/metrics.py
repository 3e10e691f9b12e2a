"""Every metric name poolscope exports, and what each means (``HELP``): the contract with
dashboards, alerts and reports.

Names follow OpenTelemetry's ``db.client.connection.*`` semantic conventions in their
Prometheus form wherever OpenTelemetry defines one; the rest are ``poolscope_*``. The same
measurements recorded through an OpenTelemetry ``MeterProvider`` carry the conventions'
own names, units and attributes (``OTEL_*``; poolscope's own under ``poolscope.pool.``).
Nothing else in the project spells these strings.
"""

from __future__ import annotations

import itertools
import math

# The label every series carries: the engine's pool_logging_name or the name given to
# instrument().
POOL_LABEL = "pool"
STATE_LABEL = "state"
ROUTE_LABEL = "route"
SOFT_LABEL = "soft"

# OpenTelemetry db.client.connection.* metrics.
CONNECTION_COUNT = "db_client_connection_count"
CONNECTION_MAX = "db_client_connection_max"
CONNECTION_IDLE_MAX = "db_client_connection_idle_max"
CONNECTION_PENDING_REQUESTS = "db_client_connection_pending_requests"
CONNECTION_TIMEOUTS = "db_client_connection_timeouts"
CONNECTION_WAIT_TIME = "db_client_connection_wait_time_seconds"
CONNECTION_USE_TIME = "db_client_connection_use_time_seconds"
CONNECTION_CREATE_TIME = "db_client_connection_create_time_seconds"

# poolscope's own.
POOL_OVERFLOW = "poolscope_pool_overflow"
POOL_CHECKOUTS = "poolscope_pool_checkouts"
POOL_CONNECTS = "poolscope_pool_connects"
POOL_INVALIDATIONS = "poolscope_pool_invalidations"
POOLS_CREATED = "poolscope_pools_created"
POOL_LEAKED_CONNECTIONS = "poolscope_pool_leaked_connections"
POOL_LEAKS = "poolscope_pool_leaks"
POOL_GC_RECLAIMED = "poolscope_pool_gc_reclaimed"
INSTRUMENTATION_ERRORS = "poolscope_instrumentation_errors"
# Wait and use time again, in FINE_BUCKETS, and their exact maxima since the pool name was
# first instrumented: what poolscope's own readers print (see FINE_BUCKETS).
POOL_WAIT_TIME = "poolscope_pool_wait_time_seconds"
POOL_USE_TIME = "poolscope_pool_use_time_seconds"
POOL_WAIT_TIME_MAX = "poolscope_pool_wait_time_max_seconds"
POOL_USE_TIME_MAX = "poolscope_pool_use_time_max_seconds"
# Time in statements (the dialect's execute until it returns) per checkout, and the rest
# of each hold: time the connection was held idle. Counted at checkin, like the use time,
# so that busy share = statement time / use time (per route: the counter over
# db_client_connection_use_time_seconds_sum).
POOL_STATEMENT_TIME = "poolscope_pool_statement_time_seconds"
POOL_STATEMENTS = "poolscope_pool_statements"
POOL_IDLE_TIME = "poolscope_pool_idle_time_seconds"
POOL_IDLE_TIME_MAX = "poolscope_pool_idle_time_max_seconds"

# The thread pool that runs a FastAPI/Starlette app's sync routes (poolscope.fastapi);
# no pool label: one per process and event loop.
THREADPOOL_BUSY_THREADS = "poolscope_threadpool_busy_threads"
THREADPOOL_LIMIT = "poolscope_threadpool_limit"
THREADPOOL_WAITING = "poolscope_threadpool_waiting"

# Counters are declared without the ``_total`` suffix, as prometheus_client expects;
# the exposed series carry it.
COUNTERS = (
    CONNECTION_TIMEOUTS,
    POOL_CHECKOUTS,
    POOL_CONNECTS,
    POOL_INVALIDATIONS,
    POOLS_CREATED,
    POOL_LEAKS,
    POOL_GC_RECLAIMED,
    INSTRUMENTATION_ERRORS,
    POOL_STATEMENT_TIME,
    POOL_STATEMENTS,
)
GAUGES = (
    CONNECTION_COUNT,
    CONNECTION_MAX,
    CONNECTION_IDLE_MAX,
    CONNECTION_PENDING_REQUESTS,
    POOL_OVERFLOW,
    POOL_LEAKED_CONNECTIONS,
    POOL_WAIT_TIME_MAX,
    POOL_USE_TIME_MAX,
    POOL_IDLE_TIME_MAX,
)
HISTOGRAMS = (
    CONNECTION_WAIT_TIME,
    CONNECTION_USE_TIME,
    CONNECTION_CREATE_TIME,
    POOL_WAIT_TIME,
    POOL_USE_TIME,
    POOL_IDLE_TIME,
)
# The histograms in FINE_BUCKETS; the others are in DEFAULT_BUCKETS.
FINE_HISTOGRAMS = (POOL_WAIT_TIME, POOL_USE_TIME, POOL_IDLE_TIME)
# The series with a route label besides the pool label.
ROUTE_SERIES = (
    CONNECTION_USE_TIME,
    POOL_USE_TIME_MAX,
    POOL_STATEMENT_TIME,
    POOL_STATEMENTS,
    POOL_IDLE_TIME_MAX,
)
THREADPOOL_GAUGES = (THREADPOOL_BUSY_THREADS, THREADPOOL_LIMIT, THREADPOOL_WAITING)


# What each metric means: the HELP line both exporters write.
HELP = {
    CONNECTION_COUNT: "Connections idle in the pool or checked out (used), read at scrape",
    CONNECTION_MAX: "The most connections the pool opens: pool_size + max_overflow",
    CONNECTION_IDLE_MAX: "The most idle connections the pool keeps: pool_size",
    CONNECTION_PENDING_REQUESTS: "Callers waiting for a connection now",
    CONNECTION_TIMEOUTS: "Checkouts that gave up waiting (sqlalchemy.exc.TimeoutError)",
    CONNECTION_WAIT_TIME: "Seconds from asking the pool for a connection to getting one",
    CONNECTION_USE_TIME: "Seconds from checkout to checkin",
    CONNECTION_CREATE_TIME: "Seconds to open one new DBAPI connection",
    POOL_OVERFLOW: "Connections open beyond pool_size now",
    POOL_CHECKOUTS: "Connections checked out of the pool",
    POOL_CONNECTS: "New DBAPI connections opened",
    POOL_INVALIDATIONS: "Connections invalidated (soft: marked for recycling only)",
    POOLS_CREATED: "Pools instrumented under this name (rising = an engine per request)",
    POOL_LEAKED_CONNECTIONS: "Connections checked out longer than the leak threshold now",
    POOL_LEAKS: "Checkouts that exceeded the leak threshold",
    POOL_GC_RECLAIMED: "Connections returned by the garbage collector, never closed",
    INSTRUMENTATION_ERRORS: "Exceptions inside poolscope's instrumentation (never raised)",
    POOL_WAIT_TIME: "Seconds waited for a connection, in buckets at most 19 % wide",
    POOL_USE_TIME: "Seconds from checkout to checkin, in buckets at most 19 % wide",
    POOL_WAIT_TIME_MAX: "The longest wait for a connection so far, exactly",
    POOL_USE_TIME_MAX: "The longest a connection was held so far, exactly",
    POOL_STATEMENT_TIME: (
        "Seconds checked-out connections spent inside statements (driver execute until it "
        "returns), counted at checkin"
    ),
    POOL_STATEMENTS: "Statements run on checked-out connections, counted at checkin",
    POOL_IDLE_TIME: (
        "Seconds a connection was held outside statements per checkout (held idle), in "
        "buckets at most 19 % wide"
    ),
    POOL_IDLE_TIME_MAX: "The longest a connection was held idle in one checkout so far, exactly",
    THREADPOOL_BUSY_THREADS: "Worker threads running sync routes (and their dependencies) now",
    THREADPOOL_LIMIT: "The most worker threads sync routes may use at once",
    THREADPOOL_WAITING: "Calls waiting for a worker thread now",
}


# The OpenTelemetry instruments (poolscope.exporters' OpenTelemetry exporter), as the
# database semantic conventions name them; tests compare them with the installed
# opentelemetry-semantic-conventions package.
OTEL_POOL_NAME_ATTRIBUTE = "db.client.connection.pool.name"
OTEL_STATE_ATTRIBUTE = "db.client.connection.state"
OTEL_ROUTE_ATTRIBUTE = "http.route"
OTEL_SOFT_ATTRIBUTE = "poolscope.invalidation.soft"
# poolscope's own instruments start with it.
OTEL_PREFIX = "poolscope.pool."
# The instrumentation scope poolscope asks the MeterProvider for its meter under.
OTEL_METER = "poolscope"

# Each OpenTelemetry instrument, by the Prometheus metric it matches (same measurement,
# same HELP as its description). Not recorded through OpenTelemetry: the fine-bucket
# histograms and the exact maxima, which poolscope's own readers take from Prometheus
# (an OpenTelemetry histogram point carries its own min and max).
OTEL_NAMES = {
    CONNECTION_COUNT: "db.client.connection.count",
    CONNECTION_MAX: "db.client.connection.max",
    CONNECTION_IDLE_MAX: "db.client.connection.idle.max",
    CONNECTION_PENDING_REQUESTS: "db.client.connection.pending_requests",
    CONNECTION_TIMEOUTS: "db.client.connection.timeouts",
    CONNECTION_WAIT_TIME: "db.client.connection.wait_time",
    CONNECTION_USE_TIME: "db.client.connection.use_time",
    CONNECTION_CREATE_TIME: "db.client.connection.create_time",
    POOL_OVERFLOW: f"{OTEL_PREFIX}overflow",
    POOL_CHECKOUTS: f"{OTEL_PREFIX}checkouts",
    POOL_CONNECTS: f"{OTEL_PREFIX}connects",
    POOL_INVALIDATIONS: f"{OTEL_PREFIX}invalidations",
    POOLS_CREATED: f"{OTEL_PREFIX}created",
    POOL_LEAKED_CONNECTIONS: f"{OTEL_PREFIX}leaked_connections",
    POOL_LEAKS: f"{OTEL_PREFIX}leaks",
    POOL_GC_RECLAIMED: f"{OTEL_PREFIX}gc_reclaimed",
    INSTRUMENTATION_ERRORS: f"{OTEL_PREFIX}instrumentation_errors",
    POOL_STATEMENT_TIME: f"{OTEL_PREFIX}statement_time",
    POOL_STATEMENTS: f"{OTEL_PREFIX}statements",
}
# UCUM units, as the semantic conventions give them (seconds for every duration).
OTEL_UNITS = {
    CONNECTION_COUNT: "{connection}",
    CONNECTION_MAX: "{connection}",
    CONNECTION_IDLE_MAX: "{connection}",
    CONNECTION_PENDING_REQUESTS: "{request}",
    CONNECTION_TIMEOUTS: "{timeout}",
    CONNECTION_WAIT_TIME: "s",
    CONNECTION_USE_TIME: "s",
    CONNECTION_CREATE_TIME: "s",
    POOL_OVERFLOW: "{connection}",
    POOL_CHECKOUTS: "{checkout}",
    POOL_CONNECTS: "{connection}",
    POOL_INVALIDATIONS: "{connection}",
    POOLS_CREATED: "{pool}",
    POOL_LEAKED_CONNECTIONS: "{connection}",
    POOL_LEAKS: "{checkout}",
    POOL_GC_RECLAIMED: "{connection}",
    INSTRUMENTATION_ERRORS: "{error}",
    POOL_STATEMENT_TIME: "s",
    POOL_STATEMENTS: "{statement}",
}


def exposed_names() -> frozenset[str]:
    """Every pool series name as Prometheus shows it (``_total``, ``_bucket``, ...)."""
    names = set(GAUGES)
    names.update(f"{name}_total" for name in COUNTERS)
    for name in HISTOGRAMS:
        names.update({f"{name}_bucket", f"{name}_sum", f"{name}_count"})
    return frozenset(names)


# Seconds. Past the default 30 s pool timeout; HikariCP's native histogram stops near
# 1 ms, which hides every real wait.
DEFAULT_BUCKETS = (
    0.0005,
    0.001,
    0.0025,
    0.005,
    0.01,
    0.025,
    0.05,
    0.1,
    0.25,
    0.5,
    1.0,
    2.5,
    5.0,
    10.0,
    30.0,
    60.0,
)


# The widest ratio of a fine bucket's upper to lower bound. A percentile read from a bucket
# (lower, upper] as sqrt(lower * upper) is then within sqrt(1.19) - 1 < 9.1 % of any value
# in it, so of the true percentile (see docs/exactness.md).
FINE_BUCKET_RATIO = 1.19


def _fine_buckets() -> tuple[float, ...]:
    """DEFAULT_BUCKETS, each gap split geometrically into steps of at most
    FINE_BUCKET_RATIO, and 0 first (an idle checkout waits 0 s, exactly)."""
    bounds = [0.0, DEFAULT_BUCKETS[0]]
    for lower, upper in itertools.pairwise(DEFAULT_BUCKETS):
        steps = math.ceil(math.log(upper / lower) / math.log(FINE_BUCKET_RATIO))
        ratio = (upper / lower) ** (1 / steps)
        # Interior bounds rounded to 4 digits, the default bounds kept exactly: every
        # default bucket is a sum of fine ones.
        bounds.extend(float(f"{lower * ratio**step:.4g}") for step in range(1, steps))
        bounds.append(upper)
    return tuple(bounds)


FINE_BUCKETS = _fine_buckets()
