"""Sampling a target's ``/metrics`` during a run, and what the samples add up to.

A background thread scrapes every ``interval`` seconds; counters and histograms are kept
relative to the baseline scraped before the load starts, so a run file describes the run
alone even when the service served other load before. While connections are leaked, the
target's ``GET /pool`` is read too (the sample service's, or ``poolscope.fastapi.pool_router``'s):
it names each leak's route and borrower.
"""

from __future__ import annotations

import json
import math
import threading
import time
from dataclasses import dataclass
from itertools import pairwise
from typing import Any

import httpx

from poolscope.readings._bounded import (
    MAX_METRICS_BYTES,
    MAX_POOL_BYTES,
    SCRAPE_SECONDS,
    ScrapeError,
    get_bounded,
)
from poolscope.readings._percentiles import Histogram
from poolscope.readings._runfile import (
    LeakReport,
    PoolSample,
    PoolSummary,
    RouteHolds,
    TimingSummary,
)
from poolscope.readings._scrape import PoolSnapshot, parse_metrics
from poolscope.readings._starvation import starved_idle_connections, starved_seconds
from poolscope.readings._terminal import shorten

__all__ = ["MetricsSampler", "TimedSnapshot", "samples_since", "summarize_pool", "timing_summary"]

MAX_LEAK_REPORTS = 10
# A borrower is a stack of a few frames; a target's text beyond is cut.
MAX_BORROWER_CHARS = 10_000
MAX_ROUTE_CHARS = 300


@dataclass(frozen=True, kw_only=True)
class TimedSnapshot:
    t: float  # seconds since the run started
    snapshot: PoolSnapshot


class MetricsSampler:
    """Scrapes ``metrics_url`` (default ``BASE/metrics``; redirects followed) and reads the
    series of ``pool`` only, or of every pool when it is None."""

    def __init__(
        self,
        base_url: str,
        *,
        metrics_url: str | None = None,
        pool: str | None = None,
        interval: float = 0.5,
        timeout: float = 2.0,
        scrape_seconds: float = SCRAPE_SECONDS,
    ) -> None:
        self.url = metrics_url or f"{base_url.rstrip('/')}/metrics"
        self.pool_url = f"{base_url.rstrip('/')}/pool"
        self.pool = pool
        self._leaks: dict[tuple[str | None, str], LeakReport] = {}
        self.interval = interval
        self.scrape_seconds = scrape_seconds
        # `app.mount("/metrics", make_asgi_app())` answers /metrics with a redirect.
        self._client = httpx.Client(timeout=timeout, follow_redirects=True)
        self._lock = threading.Lock()
        self._stop = threading.Event()
        self._thread: threading.Thread | None = None
        self._origin = time.monotonic()
        self.snapshots: list[TimedSnapshot] = []
        self.baseline: PoolSnapshot | None = None
        self.consecutive_failures = 0
        self.failed_reads = 0  # in all: a run that went on past a few says so
        self.last_error: str | None = None

    def scrape(self) -> PoolSnapshot:
        """One scrape now, within the size and time bounds; raises ``ScrapeError``."""
        status, body = get_bounded(
            self._client, self.url, limit=MAX_METRICS_BYTES, seconds=self.scrape_seconds
        )
        if status != 200:
            raise ScrapeError(f"{self.url} answered {status}, not 200")
        try:
            return parse_metrics(body.decode("utf-8", errors="replace"), pool=self.pool)
        except (ValueError, ArithmeticError) as error:
            raise ScrapeError(
                f"{self.url}: not a readable Prometheus exposition ({shorten(str(error))})"
            ) from None

    def take_baseline(self) -> PoolSnapshot:
        self.baseline = self.scrape()
        return self.baseline

    def start(self) -> None:
        self._origin = time.monotonic()
        self._thread = threading.Thread(target=self._loop, name="poolscope-sampler", daemon=True)
        self._thread.start()

    def sample_once(self) -> TimedSnapshot | None:
        try:
            snapshot = self.scrape()
        except ScrapeError as error:
            with self._lock:
                self.consecutive_failures += 1
                self.failed_reads += 1
                self.last_error = str(error)
            return None
        timed = TimedSnapshot(t=round(time.monotonic() - self._origin, 3), snapshot=snapshot)
        with self._lock:
            self.consecutive_failures = 0
            self.snapshots.append(timed)
        if snapshot.leaked > 0:
            self._read_leaks()
        return timed

    def _read_leaks(self) -> None:
        try:
            status, raw = get_bounded(
                self._client, self.pool_url, limit=MAX_POOL_BYTES, seconds=self.scrape_seconds
            )
            body = json.loads(raw) if status == 200 else None
        except (ScrapeError, ValueError, RecursionError):
            return  # a service without poolscope's /pool: the leak counts still tell
        if not isinstance(body, dict):
            return
        if self.pool is not None and body.get("pool", self.pool) != self.pool:
            return  # another pool's
        entries = body.get("checked_out")
        for entry in entries if isinstance(entries, list) else []:
            if not (isinstance(entry, dict) and entry.get("leaked")):
                continue
            borrower, route = entry.get("borrower"), entry.get("route")
            if not isinstance(borrower, str):
                continue
            report = LeakReport(
                route=shorten(route, MAX_ROUTE_CHARS) if isinstance(route, str) else None,
                borrower=shorten(borrower, MAX_BORROWER_CHARS),
                age_seconds=_seconds(entry.get("age_seconds")),
            )
            key = (report.route, report.borrower)
            with self._lock:
                known = self._leaks.get(key)
                if known is not None and known.age_seconds >= report.age_seconds:
                    continue
                if known is not None or len(self._leaks) < MAX_LEAK_REPORTS:
                    self._leaks[key] = report

    def leak_reports(self) -> list[LeakReport]:
        with self._lock:
            return list(self._leaks.values())

    def latest(self) -> TimedSnapshot | None:
        with self._lock:
            return self.snapshots[-1] if self.snapshots else None

    def _loop(self) -> None:
        next_at = time.monotonic()
        while not self._stop.is_set():
            self.sample_once()
            next_at += self.interval
            self._stop.wait(max(0.0, next_at - time.monotonic()))

    def stop_loop(self) -> None:
        """No more background scrapes; ``sample_once`` still works."""
        self._stop.set()
        if self._thread is not None:
            self._thread.join(timeout=5)

    def stop(self) -> None:
        self.stop_loop()
        self._client.close()

    def collected(self) -> list[TimedSnapshot]:
        with self._lock:
            return list(self.snapshots)


def _seconds(value: Any) -> float:
    """A target's age in seconds, or 0 where it gave none that could be one."""
    if isinstance(value, int | float) and not isinstance(value, bool):
        try:
            seconds = float(value)
        except OverflowError:  # an integer of hundreds of digits
            return 0.0
        if math.isfinite(seconds) and seconds >= 0:
            return seconds
    return 0.0


COUNTERS = (
    "checkouts",
    "timeouts",
    "connects",
    "pools_created",
    "invalidations",
    "leaks",
    "gc_reclaimed",
)


def counter_increases(baseline: PoolSnapshot, timed: list[TimedSnapshot]) -> list[dict[str, int]]:
    """Per snapshot, how much each counter rose since ``baseline``. A counter that went
    down was reset (the target restarted): its new count is added on top, as Prometheus'
    ``increase()`` does, so no figure is ever negative."""
    totals = dict.fromkeys(COUNTERS, 0)
    increases = []
    previous = baseline
    for item in timed:
        for name in COUNTERS:
            now, before = getattr(item.snapshot, name), getattr(previous, name)
            totals[name] += now - before if now >= before else now
        increases.append(dict(totals))
        previous = item.snapshot
    return increases


def counters_reset(baseline: PoolSnapshot, timed: list[TimedSnapshot]) -> bool:
    """Whether a counter went down between two reads (the target restarted)."""
    snapshots = [baseline, *(item.snapshot for item in timed)]
    return any(
        getattr(later, name) < getattr(earlier, name)
        for earlier, later in pairwise(snapshots)
        for name in COUNTERS
    )


def samples_since(baseline: PoolSnapshot, timed: list[TimedSnapshot]) -> list[PoolSample]:
    samples: list[PoolSample] = []
    previous = baseline
    for item, increase in zip(timed, counter_increases(baseline, timed), strict=True):
        now = item.snapshot
        interval = now.wait.minus(previous.wait)
        since = now.wait.minus(baseline.wait)
        samples.append(
            PoolSample(
                t=item.t,
                used=now.used,
                idle=now.idle,
                pending=now.pending,
                overflow=now.overflow,
                leaked=now.leaked,
                checkouts=increase["checkouts"],
                timeouts=increase["timeouts"],
                connects=increase["connects"],
                pools_created=increase["pools_created"],
                wait_count=since.count,
                wait_sum=round(since.sum, 6),
                wait_p50=interval.quantile(0.5),
                wait_p95=interval.quantile(0.95),
                wait_p99=interval.quantile(0.99),
                threads_busy=now.threads_busy,
                threads_waiting=now.threads_waiting,
            )
        )
        previous = now
    return samples


def summarize_pool(
    baseline: PoolSnapshot,
    timed: list[TimedSnapshot],
    leak_reports: list[LeakReport] | None = None,
) -> PoolSummary | None:
    """The run's pool summary, or None when no sample was taken."""
    if not timed:
        return None
    last = timed[-1].snapshot
    snapshots = [item.snapshot for item in timed]
    wait = last.wait.minus(baseline.wait)
    use = last.use.minus(baseline.use)
    idle = last.idle_time.minus(baseline.idle_time)
    increase = counter_increases(baseline, timed)[-1]
    busy = [s.threads_busy for s in snapshots if s.threads_busy is not None]
    waiting = [s.threads_waiting for s in snapshots if s.threads_waiting is not None]
    return PoolSummary(
        wait=timing_summary(wait),
        use=timing_summary(use),
        wait_histogram=wait if wait.counts else None,
        use_histogram=use if use.counts else None,
        **increase,
        max_used=max(s.used for s in snapshots),
        max_idle=max(s.idle for s in snapshots),
        max_pending=max(s.pending for s in snapshots),
        max_overflow=max(s.overflow for s in snapshots),
        max_leaked=max(s.leaked for s in snapshots),
        final_used=last.used,
        final_overflow=last.overflow,
        leak_reports=leak_reports or [],
        thread_limit=last.thread_limit,
        max_threads_busy=max(busy) if busy else None,
        max_threads_waiting=max(waiting) if waiting else None,
        starved_seconds=starved_seconds([(item.t, item.snapshot) for item in timed]),
        starved_idle_connections=max(starved_idle_connections(s) for s in snapshots),
        idle=timing_summary(idle) if idle.counts else None,
        idle_histogram=idle if idle.counts else None,
        routes=route_holds(baseline, last),
    )


def route_holds(baseline: PoolSnapshot, last: PoolSnapshot) -> list[RouteHolds]:
    """Each route's holds between the two scrapes, the most time held first."""
    routes = []
    for route, totals in last.routes.items():
        run = totals.minus(baseline.routes.get(route))
        if run.holds == 0:
            continue
        routes.append(
            RouteHolds(
                route=route,
                holds=run.holds,
                held_seconds=round(run.held_seconds, 6),
                statement_seconds=(
                    None if run.statement_seconds is None else round(run.statement_seconds, 6)
                ),
                statements=run.statements,
            )
        )
    routes.sort(key=lambda holds: (-holds.held_seconds, holds.route))
    return routes


def timing_summary(histogram: Histogram) -> TimingSummary:
    """Count, sum, p50/p95/p99 and the maximum of what ``histogram`` holds."""
    observed = histogram.count > 0
    return TimingSummary(
        count=histogram.count,
        sum=histogram.sum,
        p50=histogram.quantile(0.5),
        p95=histogram.quantile(0.95),
        p99=histogram.quantile(0.99),
        max=histogram.value_at_rank(histogram.count) if observed else None,
        max_exact=observed and histogram.max_exact,
    )
