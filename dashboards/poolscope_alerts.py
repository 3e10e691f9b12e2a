"""Prometheus alert rules for poolscope's metrics, and promtool unit tests for them.

Metric names come from ``poolscope.metrics``. ``rules(for_duration=...)`` renders the same
rules with another ``for:`` (the live test uses seconds instead of minutes).
"""

from __future__ import annotations

from typing import Any

from poolscope import metrics as names

GROUP = "poolscope"
# Per pool of each service: in a shared Prometheus two services' pools of one name and
# their alerts stay apart (the dashboard's job variable then finds its alerts too).
BY = f"job, {names.POOL_LABEL}, instance"

# Thresholds: tune them to your service.
SATURATED_FOR = "5m"
WAIT_P95_THRESHOLD_SECONDS = 0.1
WAIT_P95_FOR = "5m"
LEAK_LOOKBACK = "10m"
POOLS_CREATED_PER_MINUTE = 5
POOLS_CREATED_FOR = "5m"
WINDOW = "5m"
STARVED_FOR = "1m"
# Held idle: the pool this full while its connections spend under this share of their
# hold in statements.
HELD_IDLE_NEAR_FULL = 0.8
HELD_IDLE_BUSY_SHARE = 0.2
HELD_IDLE_FOR = "5m"


def _sum(metric: str, *matchers: str) -> str:
    selector = f"{metric}{{{', '.join(matchers)}}}" if matchers else metric
    return f"sum by ({BY}) ({selector})"


def _increase(counter: str, window: str) -> str:
    return f"sum by ({BY}) (increase({counter}_total[{window}]))"


def _alert(
    name: str, expr: str, duration: str, severity: str, summary: str, description: str
) -> dict[str, Any]:
    return {
        "alert": name,
        "expr": expr,
        "for": duration,
        "labels": {"severity": severity},
        "annotations": {"summary": summary, "description": description},
    }


def rules(for_duration: str | None = None) -> dict[str, Any]:
    """The rule file as a dict. ``for_duration`` replaces every non-zero ``for:``."""

    def hold(duration: str) -> str:
        return for_duration if for_duration is not None and duration != "0m" else duration

    used = f'{names.STATE_LABEL}="used"'
    alerts = [
        _alert(
            "PoolscopePoolSaturated",
            f"(\n  {_sum(names.CONNECTION_COUNT, used)}\n"
            f"  >= {_sum(names.CONNECTION_MAX)}\n)\n"
            f"or {_sum(names.CONNECTION_PENDING_REQUESTS)} > 0\n",
            hold(SATURATED_FOR),
            "warning",
            "Pool {{ $labels.pool }} on {{ $labels.instance }} is saturated",
            "Every connection of pool {{ $labels.pool }} is checked out or callers are "
            f"waiting for one, for {SATURATED_FOR}. Requests queue for connections: "
            "raise pool_size or hold connections for less time (see the dashboard's "
            "use time by route).",
        ),
        _alert(
            "PoolscopeCheckoutWaitHigh",
            f"histogram_quantile(\n  0.95,\n  sum by (le, {BY}) "
            f"(rate({names.CONNECTION_WAIT_TIME}_bucket[{WINDOW}]))\n)\n"
            f"> {WAIT_P95_THRESHOLD_SECONDS}\n",
            hold(WAIT_P95_FOR),
            "warning",
            "Checkout wait p95 of pool {{ $labels.pool }} is {{ $value | humanizeDuration }}",
            "95% of checkouts from pool {{ $labels.pool }} on {{ $labels.instance }} wait "
            f"up to {{{{ $value | humanizeDuration }}}} (threshold "
            f"{WAIT_P95_THRESHOLD_SECONDS} s) for a connection.",
        ),
        _alert(
            "PoolscopeCheckoutTimeouts",
            f"{_increase(names.CONNECTION_TIMEOUTS, WINDOW)} > 0\n",
            "0m",
            "critical",
            "Checkouts from pool {{ $labels.pool }} are timing out",
            "{{ $value | humanize }} checkouts from pool {{ $labels.pool }} on "
            "{{ $labels.instance }} gave up (sqlalchemy.exc.TimeoutError) in the last "
            f"{WINDOW}: requests are failing for want of a connection.",
        ),
        _alert(
            "PoolscopeConnectionLeak",
            f"{_sum(names.POOL_LEAKED_CONNECTIONS)} > 0\n"
            f"or {_increase(names.POOL_LEAKS, LEAK_LOOKBACK)} > 0\n",
            "0m",
            "warning",
            "Pool {{ $labels.pool }} has leaked connections",
            "A connection of pool {{ $labels.pool }} on {{ $labels.instance }} was checked "
            "out longer than the leak threshold (now, or in the last "
            f"{LEAK_LOOKBACK}). The service log names the borrowing route and stack.",
        ),
        _alert(
            "PoolscopePoolsCreatedPerRequest",
            f"sum by ({BY}) (rate({names.POOLS_CREATED}_total[{WINDOW}])) * 60\n"
            f"> {POOLS_CREATED_PER_MINUTE}\n",
            hold(POOLS_CREATED_FOR),
            "warning",
            "Pool {{ $labels.pool }} is rebuilt {{ $value | humanize }} times a minute",
            f"More than {POOLS_CREATED_PER_MINUTE} pools a minute are built for "
            "{{ $labels.pool }} on {{ $labels.instance }}: an engine is probably created "
            "per request, so every request opens a new connection.",
        ),
        _alert(
            "PoolscopeConnectionsHeldIdle",
            _held_idle(),
            hold(HELD_IDLE_FOR),
            "warning",
            "Pool {{ $labels.pool }} is full of connections held idle",
            "Pool {{ $labels.pool }} on {{ $labels.instance }} is at least "
            f"{HELD_IDLE_NEAR_FULL:.0%} checked out, yet its connections spend only "
            "{{ $value | humanizePercentage }} of the time they are held inside statements "
            f"(under {HELD_IDLE_BUSY_SHARE:.0%}), for {HELD_IDLE_FOR}: a route keeps its "
            "session open across other work (an HTTP or LLM call, a transaction never "
            "ended). A bigger pool only hides it: see the dashboard's busy share by route, "
            "and close or commit the session before the outside call.",
        ),
        _alert(
            "PoolscopeThreadStarvation",
            _thread_starvation(),
            hold(STARVED_FOR),
            "critical",
            "Sync routes on {{ $labels.instance }} are starved of threads",
            "All {{ $value | humanize }} threads that run sync routes on "
            "{{ $labels.instance }} wait for a connection while connections are checked "
            "out: the requests holding them have no thread to return them on (the FastAPI "
            "Depends deadlock, fastapi/fastapi#3205). The thread pool is starved, not the "
            "pool: a bigger pool does not help; open the Session inside the route.",
        ),
    ]
    return {"groups": [{"name": GROUP, "rules": alerts}]}


def _held_idle() -> str:
    """Busy share (statement time over held time, both counted at checkin) low, and the
    pool near full; the value is the busy share."""
    statements = f"sum by ({BY}) (rate({names.POOL_STATEMENT_TIME}_total[{WINDOW}]))"
    held = f"sum by ({BY}) (rate({names.CONNECTION_USE_TIME}_sum[{WINDOW}]))"
    used = f'{names.STATE_LABEL}="used"'
    return (
        f"(\n  {statements}\n  / {held}\n) < {HELD_IDLE_BUSY_SHARE}\n"
        f"and on ({BY}) (\n  {_sum(names.CONNECTION_COUNT, used)}\n"
        f"  >= {HELD_IDLE_NEAR_FULL} * {_sum(names.CONNECTION_MAX)}\n)\n"
    )


def _thread_starvation() -> str:
    """Every thread busy, every busy thread pending for a connection, connections out.
    Per instance of each service: the thread pool carries no pool label."""
    by = "job, instance"
    busy = f"sum by ({by}) ({names.THREADPOOL_BUSY_THREADS})"
    used = f'{names.STATE_LABEL}="used"'
    return (
        f"(\n  {busy}\n  >= sum by ({by}) ({names.THREADPOOL_LIMIT})\n)\n"
        f"and on ({by}) (\n  sum by ({by}) ({names.CONNECTION_PENDING_REQUESTS})\n"
        f"  >= {busy}\n)\n"
        f"and on ({by}) sum by ({by}) ({names.CONNECTION_COUNT}{{{used}}}) > 0\n"
    )


def _series(metric: str, values: str, **labels: str) -> dict[str, str]:
    rendered = ", ".join(f'{key}="{value}"' for key, value in labels.items())
    return {"series": f"{metric}{{{rendered}}}", "values": values}


# The labels of every input series and every expected alert.
TARGET = {"pool": "app", "instance": "service:8000", "job": "poolscope"}
ALERT_LABELS = {"job": "poolscope", "pool": "app", "instance": "service:8000"}


def _gauges(*, used: int, max_: int, pending: int, leaked: int = 0) -> list[dict[str, str]]:
    return [
        _series(names.CONNECTION_COUNT, f"{used}x15", state="used", **TARGET),
        _series(names.CONNECTION_COUNT, f"{max_ - used}x15", state="idle", **TARGET),
        _series(names.CONNECTION_MAX, f"{max_}x15", **TARGET),
        _series(names.CONNECTION_PENDING_REQUESTS, f"{pending}x15", **TARGET),
        _series(names.POOL_LEAKED_CONNECTIONS, f"{leaked}x15", **TARGET),
    ]


def _wait_buckets(*, fast_per_minute: int, slow_per_minute: int) -> list[dict[str, str]]:
    """Checkouts per minute: ``fast`` within 5 ms, ``slow`` between 0.5 s and 1 s."""
    total = fast_per_minute + slow_per_minute
    bucket = f"{names.CONNECTION_WAIT_TIME}_bucket"
    return [
        _series(bucket, f"0+{fast_per_minute}x15", le="0.005", **TARGET),
        _series(bucket, f"0+{fast_per_minute}x15", le="0.5", **TARGET),
        _series(bucket, f"0+{total}x15", le="1.0", **TARGET),
        _series(bucket, f"0+{total}x15", le="+Inf", **TARGET),
    ]


def _fires(
    alert: str, at: str, severity: str, value: str = "", labels: dict[str, str] = ALERT_LABELS
) -> dict[str, Any]:
    """The alert fires at ``at`` with its annotations rendered for ``labels`` and
    ``value`` (what ``$value | humanize...`` prints)."""
    (rule,) = (rule for rule in rules()["groups"][0]["rules"] if rule["alert"] == alert)
    annotations = {}
    for key, template in rule["annotations"].items():
        for label, label_value in labels.items():
            template = template.replace(f"{{{{ $labels.{label} }}}}", label_value)
        for function in ("humanize", "humanizeDuration", "humanizePercentage"):
            template = template.replace(f"{{{{ $value | {function} }}}}", value)
        annotations[key] = template
    return {
        "eval_time": at,
        "alertname": alert,
        "exp_alerts": [
            {
                "exp_labels": {**labels, "severity": severity},
                "exp_annotations": annotations,
            }
        ],
    }


def _quiet(alert: str, at: str) -> dict[str, Any]:
    return {"eval_time": at, "alertname": alert, "exp_alerts": []}


ALL_ALERTS = (
    "PoolscopePoolSaturated",
    "PoolscopeCheckoutWaitHigh",
    "PoolscopeCheckoutTimeouts",
    "PoolscopeConnectionLeak",
    "PoolscopePoolsCreatedPerRequest",
    "PoolscopeThreadStarvation",
    "PoolscopeConnectionsHeldIdle",
)


def _threads(*, busy: int, limit: int, pending: int, used: int) -> list[dict[str, str]]:
    """A service's thread pool and its pool's pending and used connections."""
    process = {"instance": TARGET["instance"], "job": TARGET["job"]}
    return [
        _series(names.THREADPOOL_BUSY_THREADS, f"{busy}x15", **process),
        _series(names.THREADPOOL_LIMIT, f"{limit}x15", **process),
        _series(names.THREADPOOL_WAITING, "16x15", **process),
        *_gauges(used=used, max_=used, pending=pending),
    ]


def _holds(*, held_per_minute: float, statements_per_minute: float) -> list[dict[str, str]]:
    """Seconds held and seconds in statements, accumulating per minute (one route)."""
    route = {**TARGET, names.ROUTE_LABEL: "/memories"}
    return [
        _series(f"{names.CONNECTION_USE_TIME}_sum", f"0+{held_per_minute}x15", **route),
        _series(f"{names.POOL_STATEMENT_TIME}_total", f"0+{statements_per_minute}x15", **route),
    ]


def unit_tests(rule_file: str) -> dict[str, Any]:
    """promtool's rule unit tests (``promtool test rules``), one case per behaviour."""
    minute = "1m"
    healthy = {
        "interval": minute,
        "input_series": [
            *_gauges(used=3, max_=10, pending=0),
            *_wait_buckets(fast_per_minute=600, slow_per_minute=0),
            _series(f"{names.CONNECTION_TIMEOUTS}_total", "0x15", **TARGET),
            _series(f"{names.POOL_LEAKS}_total", "0x15", **TARGET),
            _series(f"{names.POOLS_CREATED}_total", "1x15", **TARGET),
            _series(names.THREADPOOL_BUSY_THREADS, "2x15", instance=TARGET["instance"]),
            _series(names.THREADPOOL_LIMIT, "40x15", instance=TARGET["instance"]),
        ],
        "alert_rule_test": [_quiet(alert, "14m") for alert in ALL_ALERTS],
    }
    starved = {
        "interval": minute,
        # Every thread waits for a connection; the 5 connections' requests have none.
        "input_series": _threads(busy=8, limit=8, pending=8, used=5),
        "alert_rule_test": [
            _quiet("PoolscopeThreadStarvation", "0m"),
            _fires(
                "PoolscopeThreadStarvation",
                "5m",
                "critical",
                "8",
                labels={"job": TARGET["job"], "instance": TARGET["instance"]},
            ),
        ],
    }
    exhausted = {
        "interval": minute,
        # Threads all busy, but 5 of them hold the connections and work: the pool is
        # the limit, and the pool's own alert says so.
        "input_series": _threads(busy=8, limit=8, pending=3, used=5),
        "alert_rule_test": [
            _quiet("PoolscopeThreadStarvation", "10m"),
            _fires("PoolscopePoolSaturated", "10m", "warning"),
        ],
    }
    saturated = {
        "interval": minute,
        "input_series": [
            *_gauges(used=10, max_=10, pending=0),
            *_wait_buckets(fast_per_minute=10, slow_per_minute=90),
        ],
        "alert_rule_test": [
            # Not yet: saturation must last SATURATED_FOR.
            _quiet("PoolscopePoolSaturated", "3m"),
            _fires("PoolscopePoolSaturated", "10m", "warning"),
            _quiet("PoolscopeCheckoutWaitHigh", "3m"),
            _fires("PoolscopeCheckoutWaitHigh", "10m", "warning", "972.2ms"),
        ],
    }
    queueing = {
        "interval": minute,
        # One connection idle at scrape time, but callers are queueing.
        "input_series": _gauges(used=9, max_=10, pending=2),
        "alert_rule_test": [_fires("PoolscopePoolSaturated", "10m", "warning")],
    }
    timeouts = {
        "interval": minute,
        "input_series": [
            _series(f"{names.CONNECTION_TIMEOUTS}_total", "0 0 0 0 3 3 3 3 3 3 3 3", **TARGET)
        ],
        "alert_rule_test": [
            _quiet("PoolscopeCheckoutTimeouts", "2m"),
            _fires("PoolscopeCheckoutTimeouts", "5m", "critical", "3"),
            # Five minutes without a new timeout: resolved.
            _quiet("PoolscopeCheckoutTimeouts", "11m"),
        ],
    }
    leak = {
        "interval": minute,
        "input_series": [
            _series(names.POOL_LEAKED_CONNECTIONS, "0 0 0 1 2 2 0 0 0 0 0 0 0 0 0", **TARGET),
            _series(f"{names.POOL_LEAKS}_total", "0 0 0 1 2 2 2 2 2 2 2 2 2 2 2", **TARGET),
        ],
        "alert_rule_test": [
            _quiet("PoolscopeConnectionLeak", "2m"),
            _fires("PoolscopeConnectionLeak", "4m", "warning"),
            # Released, but detected within the lookback: still reported.
            _fires("PoolscopeConnectionLeak", "8m", "warning"),
        ],
    }
    engine_per_request = {
        "interval": minute,
        "input_series": [_series(f"{names.POOLS_CREATED}_total", "1+60x15", **TARGET)],
        "alert_rule_test": [
            _quiet("PoolscopePoolsCreatedPerRequest", "3m"),
            _fires("PoolscopePoolsCreatedPerRequest", "12m", "warning", "60"),
        ],
    }
    # A pool of 4 held full, 240 s of holds a minute. across-call (the held-idle scenario:
    # its recorded run spent 3.6 % of its holds in statements): 7.2 s of them in
    # statements. pool-saturation: connections busy in pg_sleep, 228 s.
    held_idle = {
        "interval": minute,
        "input_series": [
            *_gauges(used=4, max_=4, pending=12),
            *_holds(held_per_minute=240, statements_per_minute=7.2),
        ],
        "alert_rule_test": [
            _quiet("PoolscopeConnectionsHeldIdle", "3m"),
            _fires("PoolscopeConnectionsHeldIdle", "10m", "warning", "3%"),
            _fires("PoolscopePoolSaturated", "10m", "warning"),
        ],
    }
    busy_in_statements = {
        "interval": minute,
        "input_series": [
            *_gauges(used=4, max_=4, pending=12),
            *_holds(held_per_minute=240, statements_per_minute=228),
        ],
        "alert_rule_test": [
            _quiet("PoolscopeConnectionsHeldIdle", "10m"),
            _fires("PoolscopePoolSaturated", "10m", "warning"),
        ],
    }
    idle_but_not_full = {
        "interval": minute,
        "input_series": [
            *_gauges(used=1, max_=4, pending=0),
            *_holds(held_per_minute=60, statements_per_minute=1.8),
        ],
        "alert_rule_test": [_quiet("PoolscopeConnectionsHeldIdle", "10m")],
    }
    return {
        "rule_files": [rule_file],
        "evaluation_interval": minute,
        "tests": [
            healthy,
            saturated,
            queueing,
            timeouts,
            leak,
            engine_per_request,
            starved,
            exhausted,
            held_idle,
            busy_in_statements,
            idle_but_not_full,
        ],
    }
