"""The Grafana dashboard, as code: every panel answers one question about the pool.

Metric names come from ``poolscope.metrics``; the HTTP metrics are the ones
prometheus-fastapi-instrumentator exports (the sample service has it; a service without
it leaves those two panels empty, as their titles say). Made for a shared Prometheus:
the ``job`` and ``instance`` variables narrow every panel to one service, and no query
adds up same-named pools of different jobs.
"""

from __future__ import annotations

import json
from dataclasses import dataclass, field
from typing import Any

from grafana_foundation_sdk.builders import common, dashboard, prometheus, stat, timeseries
from grafana_foundation_sdk.cog.encoder import JSONEncoder
from grafana_foundation_sdk.models.common import (
    BigValueGraphMode,
    LegendDisplayMode,
    LegendPlacement,
    TooltipDisplayMode,
    VisibilityMode,
)
from grafana_foundation_sdk.models.dashboard import (
    DashboardCursorSync,
    DataSourceRef,
    Threshold,
    ThresholdsMode,
    VariableRefresh,
    VariableSort,
)

from poolscope import metrics as names

DASHBOARD_UID = "poolscope"
DATASOURCE_VARIABLE = "datasource"
# prometheus-fastapi-instrumentator's default metrics (labels handler, method, status).
HTTP_REQUEST_DURATION = "http_request_duration_seconds"
HTTP_REQUESTS = "http_requests_total"

POOL = names.POOL_LABEL
STATE = names.STATE_LABEL
ROUTE = names.ROUTE_LABEL
JOB = "job"  # Prometheus's scrape job: one service in a shared Prometheus
BY_POOL = f"{JOB}, {POOL}, instance"
# A single number per pool of each service: two services' pools called "main" stay apart.
BY_SERVICE_POOL = f"{JOB}, {POOL}"
SERVICE_FILTER = f'{JOB}=~"$job", instance=~"$instance"'
# Every pool query is filtered by the dashboard's job, pool and instance variables.
POOL_FILTER = f'{JOB}=~"$job", {POOL}=~"$pool", instance=~"$instance"'
ROUTE_FILTER = f'{ROUTE}=~"$route"'
RATE = "[$__rate_interval]"

DATASOURCE = DataSourceRef(type_val="prometheus", uid=f"${{{DATASOURCE_VARIABLE}}}")
# Prometheus's own series of active alerts; the annotation marks poolscope's on every graph.
ALERTS_ANNOTATION_EXPR = f'ALERTS{{alertname=~"Poolscope.*", alertstate="firing", {POOL_FILTER}}}'


def selector(metric: str, *matchers: str) -> str:
    return f"{metric}{{{', '.join((POOL_FILTER, *matchers))}}}"


def connections(state: str) -> str:
    matcher = f'{STATE}="{state}"'
    return f"sum by ({BY_POOL}) ({selector(names.CONNECTION_COUNT, matcher)})"


def used() -> str:
    return connections("used")


def maximum() -> str:
    return f"sum by ({BY_POOL}) ({selector(names.CONNECTION_MAX)})"


def quantile(level: float, histogram: str, by: str, *matchers: str) -> str:
    """``histogram_quantile`` over the buckets summed by ``le`` and ``by`` ("" for all)."""
    bucket = selector(f"{histogram}_bucket", *matchers)
    labels = f"le, {by}" if by else "le"
    return f"histogram_quantile({level}, sum by ({labels}) (rate({bucket}{RATE})))"


def busy_share(by: str) -> str:
    """Seconds in statements per second held, summed ``by``: both counted at checkin."""
    statements = selector(f"{names.POOL_STATEMENT_TIME}_total", ROUTE_FILTER)
    held = selector(f"{names.CONNECTION_USE_TIME}_sum", ROUTE_FILTER)
    return f"sum by ({by}) (rate({statements}{RATE}))\n/ sum by ({by}) (rate({held}{RATE}))"


def threadpool(metric: str) -> str:
    """A thread-pool gauge (no pool label: one thread pool per process) per instance."""
    return f"sum by ({JOB}, instance) ({metric}{{{SERVICE_FILTER}}})"


def counter_rate(counter: str, by: str = BY_POOL) -> str:
    return f"sum by ({by}) (rate({selector(f'{counter}_total')}{RATE}))"


@dataclass(frozen=True, kw_only=True)
class Query:
    expr: str
    legend: str


@dataclass(frozen=True, kw_only=True)
class Panel:
    title: str
    description: str
    queries: tuple[Query, ...]
    unit: str = "short"
    kind: str = "timeseries"
    width: int = 12
    height: int = 8
    thresholds: tuple[tuple[float, str], ...] = field(default=())


def q(expr: str, legend: str = "{{pool}} {{instance}}") -> Query:
    return Query(expr=expr, legend=legend)


def per_second(**counters: str) -> tuple[Query, ...]:
    """One rate query per counter, legended by the keyword (underscores as spaces)."""
    return tuple(
        q(counter_rate(counter), f"{what.replace('_', ' ')} {{{{pool}}}} {{{{instance}}}}")
        for what, counter in counters.items()
    )


def glance(
    *,
    title: str,
    description: str,
    expr: str,
    legend: str,
    thresholds: tuple[tuple[float, str], ...],
    unit: str = "short",
) -> Panel:
    """A small stat panel for the top row: one number per pool of each service (by job
    and pool), coloured by its thresholds."""
    return Panel(
        title=title,
        description=description,
        queries=(q(expr, f"{legend} {{{{job}}}} {{{{pool}}}}"),),
        unit=unit,
        kind="stat",
        width=4,
        height=4,
        thresholds=thresholds,
    )


AT_A_GLANCE = (
    glance(
        title="Pool utilisation",
        description=(
            "Checked-out connections as a share of the most the pool can hand out "
            "(pool_size + max_overflow), per pool of each service (job), on its busiest "
            "instance. 100% means the next request waits: look at pending requests and "
            "wait time."
        ),
        expr=f"max by ({BY_SERVICE_POOL}) ({used()} / {maximum()})",
        legend="busiest instance",
        unit="percentunit",
        thresholds=((0.8, "orange"), (1.0, "red")),
    ),
    glance(
        title="Pending requests",
        description=(
            "Callers waiting for a connection right now, per pool of each service (job), "
            "summed over its instances. Anything above 0 for long means the pool is too "
            "small or connections are held too long."
        ),
        expr=f"sum by ({BY_SERVICE_POOL}) ({selector(names.CONNECTION_PENDING_REQUESTS)})",
        legend="pending",
        thresholds=((1, "orange"), (5, "red")),
    ),
    glance(
        title="Checkout wait p95",
        description=(
            "95% of checkouts got a connection within this time. Near 0 is healthy; "
            "it approaches the hold time of other requests when the pool is saturated."
        ),
        expr=quantile(0.95, names.CONNECTION_WAIT_TIME, BY_SERVICE_POOL),
        legend="p95",
        unit="s",
        thresholds=((0.05, "orange"), (0.5, "red")),
    ),
    glance(
        title="Checkout timeouts (5 min)",
        description=(
            "Checkouts that gave up with sqlalchemy.exc.TimeoutError in the last 5 "
            "minutes: requests that failed because no connection came free in "
            "pool_timeout. Should be 0."
        ),
        expr=(
            f"sum by ({BY_SERVICE_POOL}) "
            f"(increase({selector(f'{names.CONNECTION_TIMEOUTS}_total')}[5m]))"
        ),
        legend="timeouts",
        thresholds=((1, "red"),),
    ),
    glance(
        title="Leaked connections",
        description=(
            "Connections checked out longer than the leak threshold right now. Should "
            "be 0; otherwise the Leaks row and the service log name the borrower."
        ),
        expr=f"sum by ({BY_SERVICE_POOL}) ({selector(names.POOL_LEAKED_CONNECTIONS)})",
        legend="leaked",
        thresholds=((1, "red"),),
    ),
    glance(
        title="Pools created per minute",
        description=(
            "New pools built per minute. A service builds its pools once at start; a "
            "steady rise means an engine is created per request (the engine-per-request "
            "antipattern): every request then pays a new connection."
        ),
        expr=(
            f"sum by ({BY_SERVICE_POOL}) "
            f"(rate({selector(f'{names.POOLS_CREATED}_total')}{RATE})) * 60"
        ),
        legend="pools/min",
        thresholds=((1, "orange"), (5, "red")),
    ),
)

ROWS: tuple[tuple[str, tuple[Panel, ...]], ...] = (
    ("At a glance", AT_A_GLANCE),
    (
        "Saturation: is the pool big enough?",
        (
            Panel(
                title="Connections: used vs max",
                description=(
                    "Used (checked out) and idle connections against the pool's max "
                    "(pool_size + max_overflow) and pool_size. When used touches max, "
                    "the next caller waits; idle connections at the same time as "
                    "waiting would point at another pool or instance."
                ),
                queries=(
                    q(used(), "used {{pool}} {{instance}}"),
                    q(connections("idle"), "idle {{pool}} {{instance}}"),
                    q(maximum(), "max {{pool}} {{instance}}"),
                    q(
                        f"sum by ({BY_POOL}) ({selector(names.CONNECTION_IDLE_MAX)})",
                        "pool_size {{pool}} {{instance}}",
                    ),
                ),
            ),
            Panel(
                title="Pending requests",
                description=(
                    "Callers blocked in Pool.connect() waiting for a connection. Any "
                    "sustained value above 0 is queueing in front of the database: "
                    "raise pool_size, hold connections shorter, or shed load."
                ),
                queries=(q(f"sum by ({BY_POOL}) ({selector(names.CONNECTION_PENDING_REQUESTS)})"),),
            ),
        ),
    ),
    (
        "Waiting: how long do requests wait for a connection?",
        (
            Panel(
                title="Checkout wait time p50 / p95 / p99",
                description=(
                    "From asking the pool for a connection to getting one. Healthy "
                    "pools stay near 0; when p95/p99 climb towards the hold time of "
                    "other requests the pool is saturated, and at pool_timeout "
                    "checkouts start to fail."
                ),
                queries=tuple(
                    q(
                        quantile(level, names.CONNECTION_WAIT_TIME, BY_POOL),
                        f"p{round(level * 100)} {{{{pool}}}} {{{{instance}}}}",
                    )
                    for level in (0.5, 0.95, 0.99)
                ),
                unit="s",
            ),
            Panel(
                title="Checkouts and timeouts per second",
                description=(
                    "Checkouts per second, and checkouts that gave up "
                    "(sqlalchemy.exc.TimeoutError after pool_timeout). Timeouts should "
                    "be 0: each one is a failed request."
                ),
                queries=per_second(
                    checkouts=names.POOL_CHECKOUTS, timeouts=names.CONNECTION_TIMEOUTS
                ),
                unit="ops",
            ),
            Panel(
                title="Longest wait and hold so far, and p99 in fine buckets",
                description=(
                    "The longest checkout wait and connection hold since the service "
                    "started, exactly (never a bucket's edge), and the p99 of wait and "
                    "use from poolscope's fine buckets (each at most 19 % wide, so within "
                    "19 % here; poolscope's own reports read them within 10 %)."
                ),
                queries=(
                    q(
                        f"max by ({BY_POOL}) ({selector(names.POOL_WAIT_TIME_MAX)})",
                        "longest wait {{pool}} {{instance}}",
                    ),
                    q(
                        f"max by ({BY_POOL}) ({selector(names.POOL_USE_TIME_MAX, ROUTE_FILTER)})",
                        "longest hold {{pool}} {{instance}}",
                    ),
                    q(
                        quantile(0.99, names.POOL_WAIT_TIME, BY_POOL),
                        "wait p99 {{pool}} {{instance}}",
                    ),
                    q(
                        quantile(0.99, names.POOL_USE_TIME, BY_POOL),
                        "use p99 {{pool}} {{instance}}",
                    ),
                ),
                unit="s",
                width=24,
            ),
        ),
    ),
    (
        "Holding: who holds connections, and for how long?",
        (
            Panel(
                title="Connection use time p95 by route",
                description=(
                    "How long a checked-out connection is held, from checkout to "
                    "checkin, per route. Long holds (slow queries, work done while "
                    "holding a session, sleeping inside a transaction) starve the "
                    "pool; the slowest routes here are the first to fix."
                ),
                queries=(
                    q(
                        quantile(
                            0.95,
                            names.CONNECTION_USE_TIME,
                            f"{JOB}, {POOL}, {ROUTE}",
                            ROUTE_FILTER,
                        ),
                        "{{route}} ({{pool}})",
                    ),
                ),
                unit="s",
            ),
            Panel(
                title="Connections held, by route",
                description=(
                    "Seconds of connection use per second, per route: the average "
                    "number of connections each route keeps busy. The routes on top "
                    "are the ones occupying the pool."
                ),
                queries=(
                    q(
                        f"sum by ({JOB}, {POOL}, {ROUTE}) (rate("
                        f"{selector(f'{names.CONNECTION_USE_TIME}_sum', ROUTE_FILTER)}{RATE}))",
                        "{{route}} ({{pool}})",
                    ),
                ),
            ),
            Panel(
                title="Busy share by route: time in statements / time held",
                description=(
                    "Of the time a route holds its connections, the share spent inside "
                    "statements (the driver's execute until it returns). A route near 0 % "
                    "holds connections idle: a session kept open across an HTTP or LLM "
                    "call, password hashing, a transaction never ended. A full pool with "
                    "low busy shares is fixed in the code (close or commit the session "
                    "before the outside call), not by a bigger pool; one with high busy "
                    "shares needs faster queries or more connections."
                ),
                queries=(q(busy_share(f"{JOB}, {POOL}, {ROUTE}"), "{{route}} ({{pool}})"),),
                unit="percentunit",
            ),
            Panel(
                title="Held idle per checkout: p95 and the longest",
                description=(
                    "Per checkout, the time held outside statements: checkin minus "
                    "checkout minus the time in statements. Seconds here while statements "
                    "take milliseconds mean connections wait on something else with a "
                    "session open. The longest is exact, per route."
                ),
                queries=(
                    q(
                        quantile(0.95, names.POOL_IDLE_TIME, BY_POOL),
                        "idle p95 {{pool}} {{instance}}",
                    ),
                    q(
                        f"max by ({JOB}, {POOL}, {ROUTE}) "
                        f"({selector(names.POOL_IDLE_TIME_MAX, ROUTE_FILTER)})",
                        "longest idle {{route}} ({{pool}})",
                    ),
                ),
                unit="s",
            ),
            Panel(
                title="Statements per second by route",
                description=(
                    "Statements run on checked-out connections, per route (counted at "
                    "checkin). Beside the busy share: many quick statements and a low "
                    "share is work between statements; one statement and a low share is "
                    "a wait with the session open."
                ),
                queries=(
                    q(
                        counter_rate(names.POOL_STATEMENTS, f"{JOB}, {POOL}, {ROUTE}"),
                        "{{route}} ({{pool}})",
                    ),
                ),
                unit="ops",
                width=24,
            ),
        ),
    ),
    (
        "Overflow and churn: is the pool stable?",
        (
            Panel(
                title="Overflow in use",
                description=(
                    "Connections open beyond pool_size right now. Overflow absorbs "
                    "bursts; overflow that never falls back to 0 means pool_size is too "
                    "small for the steady load."
                ),
                queries=(q(f"sum by ({BY_POOL}) ({selector(names.POOL_OVERFLOW)})"),),
                width=8,
            ),
            Panel(
                title="New connections and pools per second",
                description=(
                    "New DBAPI connections opened, connections invalidated, and pools "
                    "built, per second. A warm pool opens almost nothing; a steady "
                    "connect rate means churn (overflow closing and reopening, "
                    "invalidations, pool_recycle), and pools created at the request "
                    "rate means an engine is built per request."
                ),
                queries=per_second(
                    connects=names.POOL_CONNECTS,
                    invalidations=names.POOL_INVALIDATIONS,
                    pools_created=names.POOLS_CREATED,
                ),
                unit="ops",
                width=8,
            ),
            Panel(
                title="Connection create time p95",
                description=(
                    "Time to open one new DBAPI connection (TCP + authentication). "
                    "This is what every request pays when an engine is built per "
                    "request or when the pool churns."
                ),
                queries=(q(quantile(0.95, names.CONNECTION_CREATE_TIME, BY_POOL)),),
                unit="s",
                width=8,
            ),
        ),
    ),
    (
        "Leaks: are connections checked out and forgotten?",
        (
            Panel(
                title="Leaked connections now",
                description=(
                    "Connections checked out longer than the leak threshold. A line "
                    "that only climbs is a session that is never closed; the service "
                    "log names the borrowing route and stack."
                ),
                queries=(q(f"sum by ({BY_POOL}) ({selector(names.POOL_LEAKED_CONNECTIONS)})"),),
            ),
            Panel(
                title="Leaks detected and connections reclaimed by GC",
                description=(
                    "Leaks detected per second, and connections the garbage collector "
                    "returned without anyone closing them. Both should be 0; GC "
                    "reclaims mean sessions are dropped instead of closed."
                ),
                queries=per_second(leaks=names.POOL_LEAKS, gc_reclaimed=names.POOL_GC_RECLAIMED),
                unit="ops",
            ),
        ),
    ),
    (
        "Threads: starved, or is the pool exhausted?",
        (
            Panel(
                title="Threads for sync routes: busy vs limit, and who waits",
                description=(
                    "The thread pool FastAPI runs sync routes in (poolscope.fastapi's "
                    "instrument_threadpool). Busy at the limit with as many callers "
                    "pending for a connection as there are busy threads is the Depends "
                    "deadlock (fastapi/fastapi#3205): every thread waits for a connection "
                    "that only a request without a thread can return, so the checked-out "
                    "connections sit idle. Raising pool_size does not help; open the "
                    "Session inside the route. Busy below the limit with callers pending "
                    "is plain pool exhaustion."
                ),
                queries=(
                    q(threadpool(names.THREADPOOL_BUSY_THREADS), "busy threads {{instance}}"),
                    q(threadpool(names.THREADPOOL_LIMIT), "thread limit {{instance}}"),
                    q(threadpool(names.THREADPOOL_WAITING), "waiting for a thread {{instance}}"),
                    q(
                        f"sum by ({JOB}, instance) ({selector(names.CONNECTION_PENDING_REQUESTS)})",
                        "pending for a connection {{instance}}",
                    ),
                ),
                width=24,
            ),
        ),
    ),
    (
        "The service: HTTP latency beside the pool",
        (
            Panel(
                title="HTTP latency p50 / p95 / p99 (needs prometheus-fastapi-instrumentator)",
                description=(
                    "The service's request latency, from prometheus-fastapi-instrumentator's "
                    f"{HTTP_REQUEST_DURATION} (the sample service has it; add "
                    "Instrumentator().instrument(app) to yours, or this panel stays empty; "
                    "poolscope's own connection use time by route is above). "
                    "Compare with the checkout wait above: when they rise together, "
                    "requests are queueing for connections, not for the database. "
                    "This histogram has coarse buckets, so read it as a trend."
                ),
                queries=tuple(
                    q(
                        f"histogram_quantile({level}, sum by (le, {JOB}) (rate("
                        f"{HTTP_REQUEST_DURATION}_bucket{{{SERVICE_FILTER}}}{RATE})))",
                        f"p{round(level * 100)} {{{{job}}}}",
                    )
                    for level in (0.5, 0.95, 0.99)
                ),
                unit="s",
            ),
            Panel(
                title="HTTP requests per second (needs prometheus-fastapi-instrumentator)",
                description=(
                    "Requests per second per handler and status, from "
                    f"prometheus-fastapi-instrumentator's {HTTP_REQUESTS} (empty for a "
                    "service without it). 5xx appearing with checkout timeouts are "
                    "requests that failed for want of a connection."
                ),
                queries=(
                    q(
                        f"sum by ({JOB}, handler, status) "
                        f"(rate({HTTP_REQUESTS}{{{SERVICE_FILTER}}}{RATE}))",
                        "{{job}} {{handler}} {{status}}",
                    ),
                ),
                unit="reqps",
            ),
        ),
    ),
)


def _variables() -> list[Any]:
    datasource = (
        dashboard.DatasourceVariable(DATASOURCE_VARIABLE).label("Data source").type("prometheus")
    )

    def query_variable(name: str, label: str, query: str) -> Any:
        return (
            dashboard.QueryVariable(name)
            .label(label)
            .datasource(DATASOURCE)
            .query(query)
            .multi(True)
            .include_all(True)
            # ".*" also matches series without the label (unattributed use time).
            .all_value(".*")
            .refresh(VariableRefresh.ON_TIME_RANGE_CHANGED)
            .sort(VariableSort.ALPHABETICAL_ASC)
        )

    return [
        datasource,
        query_variable(JOB, "Job", f"label_values({names.CONNECTION_IDLE_MAX}, {JOB})"),
        query_variable(
            "pool",
            "Pool",
            f'label_values({names.CONNECTION_IDLE_MAX}{{{JOB}=~"$job"}}, {POOL})',
        ),
        query_variable(
            "instance",
            "Instance",
            f'label_values({names.CONNECTION_IDLE_MAX}{{{JOB}=~"$job", {POOL}=~"$pool"}}, '
            "instance)",
        ),
        query_variable(
            "route",
            "Route",
            f"label_values({names.CONNECTION_USE_TIME}_count"
            f'{{{JOB}=~"$job", {POOL}=~"$pool"}}, {ROUTE})',
        ),
    ]


def _panel(spec: Panel, panel_id: int) -> Any:
    builder: Any = timeseries.Panel() if spec.kind == "timeseries" else stat.Panel()
    builder = (
        builder.id(panel_id)
        .title(spec.title)
        .description(spec.description)
        .datasource(DATASOURCE)
        .unit(spec.unit)
        .min(0)
        .span(spec.width)
        .height(spec.height)
    )
    for index, query in enumerate(spec.queries):
        builder = builder.with_target(
            prometheus.Dataquery()
            .ref_id(chr(ord("A") + index))
            .expr(query.expr)
            .legend_format(query.legend)
            .range()
        )
    steps = [Threshold(value=None, color="green")]
    steps += [Threshold(value=value, color=color) for value, color in spec.thresholds]
    builder = builder.thresholds(
        dashboard.ThresholdsConfig().mode(ThresholdsMode.ABSOLUTE).steps(steps)
    )
    if spec.kind == "stat":
        return builder.graph_mode(BigValueGraphMode.AREA).reduce_options(
            common.ReduceDataOptions().calcs(["lastNotNull"])
        )
    return (
        builder.fill_opacity(10)
        .show_points(VisibilityMode.NEVER)
        .legend(
            common.VizLegendOptions()
            .show_legend(True)
            .display_mode(LegendDisplayMode.TABLE)
            .placement(LegendPlacement.BOTTOM)
            .calcs(["lastNotNull", "max"])
        )
        .tooltip(common.VizTooltipOptions().mode(TooltipDisplayMode.MULTI))
    )


def build() -> dict[str, Any]:
    """The dashboard as Grafana's JSON model (a plain dict)."""
    board = (
        dashboard.Dashboard("poolscope: SQLAlchemy connection pools")
        .uid(DASHBOARD_UID)
        .description(
            "Is the pool saturated, how long do requests wait for a connection, who holds "
            "connections, are checkouts timing out, are connections or pools churning, are "
            "there leaks: poolscope's metrics beside the service's HTTP latency."
        )
        .tags(["poolscope", "sqlalchemy", "postgresql"])
        .time("now-30m", "now")
        .refresh("10s")
        .tooltip(DashboardCursorSync.CROSSHAIR)
    )
    for variable in _variables():
        board = board.with_variable(variable)
    board = board.annotation(
        dashboard.AnnotationQuery()
        .name("Annotations & Alerts")
        .datasource(DataSourceRef(type_val="grafana", uid="-- Grafana --"))
        .built_in(1)
        .enable(True)
        .hide(True)
        .icon_color("rgba(0, 211, 255, 1)")
        .type("dashboard")
    ).annotation(
        dashboard.AnnotationQuery()
        .name("poolscope alerts")
        .datasource(DATASOURCE)
        .enable(True)
        .icon_color("red")
        .expr(ALERTS_ANNOTATION_EXPR)
    )
    panel_id = 0
    for title, panels in ROWS:
        panel_id += 1
        board = board.with_row(dashboard.Row(title).id(panel_id))
        for spec in panels:
            panel_id += 1
            board = board.with_panel(_panel(spec, panel_id))
    encoded: dict[str, Any] = json.loads(json.dumps(board.build(), cls=JSONEncoder))
    return encoded
