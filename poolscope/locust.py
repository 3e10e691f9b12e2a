"""A "Pool" tab in Locust's web UI: the target's pool gauges and wait percentiles, read
from its ``/metrics`` each time the UI refreshes its statistics.

Uses Locust's documented extension points (``examples/extend_web_ui.py``): an extended
tab and table in the template arguments, and ``extended_stats`` added to the
``/stats/requests`` answer the UI polls. ``GET /poolscope/pool`` serves the same as JSON.
"""

from __future__ import annotations

import json
import time
from collections import deque
from typing import Any
from urllib.error import URLError
from urllib.request import urlopen

from flask import Response, jsonify, request
from locust import events

from poolscope.loadtest import HistogramCounts, PoolSnapshot, parse_metrics

TAB_KEY = "pool"
RECENT_SECONDS = 10.0
STRUCTURE = [{"key": "metric", "title": "Pool metric"}, {"key": "value", "title": "Value"}]


class PoolTab:
    def __init__(self, environment: Any) -> None:
        self.environment = environment
        self.baseline: PoolSnapshot | None = None
        self.latest: PoolSnapshot | None = None
        self.error: str | None = None
        self.scraped_at = 0.0
        # (time, wait histogram) of recent scrapes, for the last RECENT_SECONDS' percentiles.
        self.history: deque[tuple[float, HistogramCounts]] = deque()

    def scrape(self) -> PoolSnapshot | None:
        host = (self.environment.host or "").rstrip("/")
        if not host:
            self.error = "no target host set"
            return None
        try:
            with urlopen(f"{host}/metrics", timeout=2) as answer:
                self.latest = parse_metrics(answer.read().decode())
            self.error, self.scraped_at = None, time.time()
            self.history.append((self.scraped_at, self.latest.wait))
            while self.history and self.history[0][0] < self.scraped_at - RECENT_SECONDS:
                self.history.popleft()
        except (URLError, OSError, ValueError) as problem:
            self.error = f"cannot read {host}/metrics: {problem}"
        return self.latest

    def rows(self) -> list[dict[str, str]]:
        now = self.scrape() if time.time() - self.scraped_at > 0.5 else self.latest
        if now is None:
            return [{"metric": "error", "value": self.error or "no data yet"}]
        since = now.wait.minus(self.baseline.wait) if self.baseline else now.wait
        start = self.baseline or PoolSnapshot()

        recent = now.wait.minus(self.history[0][1]) if self.history else since

        def ms(histogram: HistogramCounts) -> str:
            values = [histogram.quantile(q) for q in (0.5, 0.95, 0.99)]
            return " / ".join("-" if v is None else f"{v * 1000:.1f} ms" for v in values)

        rows = [
            ("pools", ", ".join(now.pools) or "(no poolscope metrics)"),
            ("used / max", f"{now.used} / {now.max_connections}"),
            ("idle", now.idle),
            ("pending requests", now.pending),
            ("overflow", now.overflow),
            ("leaked now", now.leaked),
            (f"wait p50 / p95 / p99 (last {RECENT_SECONDS:.0f} s)", ms(recent)),
            ("wait p50 / p95 / p99 (this test)", ms(since)),
            ("checkouts (this test)", now.checkouts - start.checkouts),
            ("timeouts (this test)", now.timeouts - start.timeouts),
            ("connections opened (this test)", now.connects - start.connects),
            ("pools created (this test)", now.pools_created - start.pools_created),
        ]
        if self.error:
            rows.append(("error", self.error))
        return [{"metric": name, "value": str(value)} for name, value in rows]


def install(environment: Any, **_kwargs: Any) -> None:
    web_ui = environment.web_ui
    if web_ui is None:
        return
    tab = PoolTab(environment)
    web_ui.template_args["extended_tabs"] = [{"title": "Pool", "key": TAB_KEY}]
    web_ui.template_args["extended_tables"] = [{"key": TAB_KEY, "structure": STRUCTURE}]

    def _baseline(**_kwargs: Any) -> None:
        tab.baseline = tab.scrape()

    def _add_pool_rows(response: Response) -> Response:
        if request.path != "/stats/requests" or not response.is_json:
            return response
        body = response.get_json()
        body["extended_stats"] = [{"key": TAB_KEY, "data": tab.rows()}]
        response.set_data(json.dumps(body))
        return response

    def _pool() -> Response:
        return jsonify({"rows": tab.rows(), "error": tab.error})

    environment.events.test_start.add_listener(_baseline)
    web_ui.app.after_request(_add_pool_rows)
    web_ui.app.add_url_rule("/poolscope/pool", view_func=_pool)


events.init.add_listener(install)  # type: ignore[no-untyped-call]
