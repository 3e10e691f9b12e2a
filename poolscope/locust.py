"""poolscope's Locust plugin: ``import poolscope.locust`` in any locustfile adds a "Pool"
tab to Locust's web UI for any target instrumented with poolscope.

The tab shows the target's pool (used / idle / max, pending, overflow, leaks, wait
percentiles, and per route the mean hold and its busy share: the time in statements)
and, above that table, charts of the pool over time (used / idle / pending
connections, wait p50 / p95 / p99), also on their own page at ``/poolscope/charts``; the
same figures as JSON at ``/poolscope/pool``. The target's metrics are read once a second
from ``--poolscope-metrics-url`` (default ``HOST/metrics``, redirects followed); a target
exporting several pools is narrowed with ``--poolscope-pool NAME``.

It uses Locust's documented extension points (an extended tab and table, and
``extended_stats`` added to the ``/stats/requests`` answer the UI polls), plus a small
script that places the charts in the tab. Importing it imports Locust, which
gevent-patches the process: only locustfiles import it, never poolscope itself.
"""

from __future__ import annotations

import json
import logging
import time
from collections import deque
from html import escape
from typing import Any
from urllib.error import URLError
from urllib.request import urlopen

import gevent
from flask import Response, jsonify, request
from locust import events

from poolscope.compare import STYLE, pool_charts
from poolscope.readings import (
    COUNTERS,
    MAX_METRICS_BYTES,
    SCRAPE_SECONDS,
    Histogram,
    PoolSnapshot,
    RouteHolds,
    ScrapeError,
    TimedSnapshot,
    counter_increases,
    format_share,
    one_line,
    parse_metrics,
    read_within,
    route_figures,
    route_holds,
    samples_since,
)

__all__ = ["CHARTS_PATH", "JSON_PATH", "PoolWatch"]

TAB_KEY = "pool"
JSON_PATH = "/poolscope/pool"
CHARTS_PATH = "/poolscope/charts"
SCRAPE_INTERVAL_SECONDS = 1.0
RECENT_SECONDS = 10.0
HISTORY_SAMPLES = 1800  # half an hour at one scrape a second
logger = logging.getLogger("poolscope.locust")
STRUCTURE = [{"key": "metric", "title": "Pool metric"}, {"key": "value", "title": "Value"}]

# Puts the chart page above the Pool tab's table while that tab is open.
TAB_SCRIPT = f"""<script>
(function () {{
  function place() {{
    var frame = document.getElementById("poolscope-charts");
    var onTab = new URLSearchParams(location.search).get("tab") === "{TAB_KEY}";
    var table = document.querySelector("table");
    if (!onTab || !table) {{ if (frame) frame.remove(); return; }}
    if (frame) return;
    var box = table.closest(".MuiTableContainer-root") || table.parentElement;
    frame = document.createElement("iframe");
    frame.id = "poolscope-charts";
    frame.title = "pool over time";
    frame.src = "{CHARTS_PATH}?embedded=1";
    frame.style.cssText = "width:100%;height:300px;border:0";
    box.parentElement.insertBefore(frame, box);
  }}
  setInterval(place, 500);
}})();
</script>"""

# Redraws the charts in place every second (no page reload, no flicker).
CHARTS_SCRIPT = f"""<script>
setInterval(function () {{
  fetch("{CHARTS_PATH}?fragment=1").then(function (answer) {{ return answer.text(); }})
    .then(function (html) {{ document.getElementById("charts").innerHTML = html; }});
}}, {int(SCRAPE_INTERVAL_SECONDS * 1000)});
</script>"""


class PoolWatch:
    """The target's pool, scraped every second: the latest state, the state at the test's
    start (the baseline its counters are read against) and the history since then."""

    def __init__(self, environment: Any) -> None:
        self.environment = environment
        options = getattr(environment, "parsed_options", None)
        self.metrics_url: str | None = getattr(options, "poolscope_metrics_url", None) or None
        self.pool: str | None = getattr(options, "poolscope_pool", None) or None
        self.baseline: PoolSnapshot | None = None
        self.latest: PoolSnapshot | None = None
        self.error: str | None = None
        self.scraped_at = 0.0
        self.origin = time.monotonic()
        self.history: deque[TimedSnapshot] = deque(maxlen=HISTORY_SAMPLES)

    def url(self) -> str | None:
        host = (self.environment.host or "").rstrip("/")
        return self.metrics_url or (f"{host}/metrics" if host else None)

    def scrape(self) -> PoolSnapshot | None:
        url = self.url()
        if url is None:
            self.error = "no target host set"
            return None
        deadline = time.monotonic() + SCRAPE_SECONDS
        try:
            # urllib follows the redirect `app.mount("/metrics", make_asgi_app())` answers;
            # read1 returns what has arrived, so a trickling target meets the deadline.
            with urlopen(url, timeout=2) as answer:
                body = read_within(
                    iter(lambda: answer.read1(65536), b""),
                    url=url,
                    limit=MAX_METRICS_BYTES,
                    deadline=deadline,
                )
            self.latest = parse_metrics(body.decode("utf-8", errors="replace"), pool=self.pool)
        except ScrapeError as problem:
            self.error = one_line(str(problem))
            return self.latest
        except (URLError, OSError, ValueError, ArithmeticError) as problem:
            self.error = one_line(f"cannot read {url}: {problem}")
            return self.latest
        self.error, self.scraped_at = None, time.monotonic()
        if self.baseline is None:
            self.baseline = self.latest
        self.history.append(
            TimedSnapshot(t=round(self.scraped_at - self.origin, 3), snapshot=self.latest)
        )
        return self.latest

    def restart(self) -> None:
        """A test starts: counters and charts start from here."""
        self.history.clear()
        self.origin = time.monotonic()
        self.baseline = None
        self.scrape()

    def rows(self) -> list[dict[str, str]]:
        now = self.latest
        if now is None:
            return [{"metric": "error", "value": self.error or "no data yet"}]
        start = self.baseline or now
        # A target restarted mid-test counts on from its reset, never below zero.
        history = list(self.history)
        counted = counter_increases(start, history)[-1] if history else {}
        counted = {name: counted.get(name, 0) for name in COUNTERS}
        since = now.wait.minus(start.wait)
        recent_start = next(
            (i.snapshot for i in self.history if i.t >= self.history[-1].t - RECENT_SECONDS),
            start,
        )
        recent = now.wait.minus(recent_start.wait)

        def ms(histogram: Histogram) -> str:
            values = [histogram.quantile(q) for q in (0.5, 0.95, 0.99)]
            values.append(histogram.value_at_rank(histogram.count))
            text = " / ".join("-" if v is None else f"{v * 1000:.1f} ms" for v in values)
            # A maximum not known exactly is read from the buckets: say so.
            return text if histogram.max_exact or not histogram.count else f"{text} (max ≈)"

        rows = [
            ("pools", ", ".join(now.pools) or "(no poolscope metrics)"),
            ("used / max", f"{now.used} / {now.max_connections}"),
            ("idle", now.idle),
            ("pending requests", now.pending),
            ("overflow", now.overflow),
            ("leaked now", now.leaked),
            # Sync routes' threads: all busy while every one waits for a connection is the
            # Depends deadlock (thread starvation), not pool exhaustion.
            ("threads busy / limit, waiting", _threads(now)),
            (f"wait p50 / p95 / p99 / max (last {RECENT_SECONDS:.0f} s)", ms(recent)),
            ("wait p50 / p95 / p99 / max (this test)", ms(since)),
            ("checkouts (this test)", counted["checkouts"]),
            ("timeouts (this test)", counted["timeouts"]),
            ("connections opened (this test)", counted["connects"]),
            ("pools created (this test)", counted["pools_created"]),
            *_route_rows(route_holds(start, now)),
            ("charts", CHARTS_PATH),
        ]
        if self.error:
            rows.append(("error", self.error))
        return [{"metric": name, "value": str(value)} for name, value in rows]

    def charts(self) -> str:
        baseline = self.baseline or PoolSnapshot()
        return pool_charts(samples_since(baseline, list(self.history)))

    def answer(self) -> dict[str, Any]:
        samples = samples_since(self.baseline or PoolSnapshot(), list(self.history))
        return {
            "metrics_url": self.url(),
            "pool": self.pool,
            "rows": self.rows(),
            "error": self.error,
            "samples": [sample.model_dump() for sample in samples],
        }


def _page(watch: PoolWatch, *, embedded: bool) -> str:
    title = "" if embedded else f"<h1>poolscope: the pool at {escape(watch.url() or '-')}</h1>"
    return (
        '<!doctype html><html lang="en"><head><meta charset="utf-8">'
        f"<title>poolscope pool</title><style>{STYLE} body {{ margin: 0.5em; }}</style>"
        f'</head><body>{title}<div id="charts">{watch.charts()}</div>{CHARTS_SCRIPT}'
        "</body></html>"
    )


def add_arguments(parser: Any) -> None:
    group = parser.add_argument_group("poolscope")
    group.add_argument(
        "--poolscope-metrics-url",
        default="",
        help="Where the target serves its Prometheus metrics (default: HOST/metrics)",
    )
    group.add_argument(
        "--poolscope-pool",
        default="",
        help="The pool to show when the target exports several (its `pool` label)",
    )


def _route_rows(routes: list[RouteHolds]) -> list[tuple[str, str]]:
    """Busy share over every route, then each route's holds (this test), most held first."""
    measured = [route for route in routes if route.statement_seconds is not None]
    held = sum(route.held_seconds for route in measured)
    if not measured or held <= 0:
        return []
    busy = sum(route.statement_seconds or 0.0 for route in measured) / held
    rows = [("busy share: in statements / held (this test)", format_share(busy))]
    rows += [(f"route {route.route or '(none)'}", route_figures(route)) for route in measured]
    return rows


def _threads(snapshot: PoolSnapshot) -> str:
    if snapshot.threads_busy is None:
        return "(not exported)"
    return f"{snapshot.threads_busy} / {snapshot.thread_limit}, {snapshot.threads_waiting}"


def install(environment: Any, **_kwargs: Any) -> None:
    web_ui = environment.web_ui
    if web_ui is None:
        return
    watch = PoolWatch(environment)
    web_ui.template_args["extended_tabs"] = [{"title": "Pool", "key": TAB_KEY}]
    web_ui.template_args["extended_tables"] = [{"key": TAB_KEY, "structure": STRUCTURE}]

    def scrape_forever() -> None:
        logged = False
        while True:
            try:
                watch.scrape()
            except Exception as problem:  # the tab shows it; the scrapes go on
                watch.error = one_line(f"cannot read the pool: {type(problem).__name__}: {problem}")
                if not logged:
                    logger.exception("poolscope: a scrape of the target failed")
                    logged = True
            gevent.sleep(SCRAPE_INTERVAL_SECONDS)

    def test_started(**_kwargs: Any) -> None:
        watch.restart()

    def add_pool(response: Response) -> Response:
        if request.path == "/stats/requests" and response.is_json:
            body = response.get_json()
            body["extended_stats"] = [{"key": TAB_KEY, "data": watch.rows()}]
            response.set_data(json.dumps(body))
        elif request.path == "/" and response.mimetype == "text/html":
            response.direct_passthrough = False
            page = response.get_data(as_text=True)
            response.set_data(page.replace("</body>", TAB_SCRIPT + "</body>", 1))
        return response

    def pool_json() -> Response:
        return jsonify(watch.answer())

    def charts_page() -> Response:
        if request.args.get("fragment"):
            return Response(watch.charts(), mimetype="text/html")
        page = _page(watch, embedded=bool(request.args.get("embedded")))
        return Response(page, mimetype="text/html")

    environment.events.test_start.add_listener(test_started)
    web_ui.app.after_request(add_pool)
    web_ui.app.add_url_rule(JSON_PATH, view_func=pool_json)
    web_ui.app.add_url_rule(CHARTS_PATH, view_func=charts_page)
    gevent.spawn(scrape_forever)


events.init_command_line_parser.add_listener(add_arguments)  # type: ignore[no-untyped-call]
events.init.add_listener(install)  # type: ignore[no-untyped-call]
