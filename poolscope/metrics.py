"""Every metric name poolscope exports, and what each means (``HELP``): the contract with
dashboards, alerts and reports.

Names follow OpenTelemetry's ``db.client.connection.*`` semantic conventions in their
Prometheus form wherever OpenTelemetry defines one; the rest are ``poolscope_*``.
Nothing else in the project spells these strings.
"""

from __future__ import annotations

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
)
GAUGES = (
    CONNECTION_COUNT,
    CONNECTION_MAX,
    CONNECTION_IDLE_MAX,
    CONNECTION_PENDING_REQUESTS,
    POOL_OVERFLOW,
    POOL_LEAKED_CONNECTIONS,
)
HISTOGRAMS = (CONNECTION_WAIT_TIME, CONNECTION_USE_TIME, CONNECTION_CREATE_TIME)
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
    THREADPOOL_BUSY_THREADS: "Worker threads running sync routes (and their dependencies) now",
    THREADPOOL_LIMIT: "The most worker threads sync routes may use at once",
    THREADPOOL_WAITING: "Calls waiting for a worker thread now",
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
