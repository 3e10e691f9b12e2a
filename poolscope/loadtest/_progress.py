"""What ``poolscope run`` shows while it plays: notes, a live panel on a terminal, and the
summary at the end."""

from __future__ import annotations

import time
from collections.abc import Sequence
from typing import Protocol

from rich.console import Console, Group
from rich.live import Live
from rich.progress_bar import ProgressBar
from rich.table import Table
from rich.text import Text

from poolscope.loadtest._locust_result import LiveTotals
from poolscope.readings import (
    NO_DATA,
    PoolSnapshot,
    Run,
    TimingSummary,
    format_share,
    held_idle_cause,
    literal,
    print_unbroken,
    shorten,
    starvation_cause,
    visible,
)

__all__ = ["NullReporter", "Reporter", "RichReporter", "render_summary"]

# A note can carry a target's answer or a child's last lines: bounded, kept readable.
NOTE_LIMIT = 2000


class Reporter(Protocol):
    def note(self, message: str) -> None: ...
    def started(self, scenario: str, variant: str, duration: float, host: str) -> None: ...
    def update(self, elapsed: float, totals: LiveTotals, pool: PoolSnapshot | None) -> None: ...
    def load_ended(self) -> None: ...  # Locust has exited; the pool settles next
    def finished(self) -> None: ...


class NullReporter:
    """Shows nothing (for callers such as ``poolscope compare`` that report themselves)."""

    def note(self, message: str) -> None:
        pass

    def started(self, scenario: str, variant: str, duration: float, host: str) -> None:
        pass

    def update(self, elapsed: float, totals: LiveTotals, pool: PoolSnapshot | None) -> None:
        pass

    def load_ended(self) -> None:
        pass

    def finished(self) -> None:
        pass


class RichReporter:
    """A live panel on a terminal; elsewhere (CI logs, pipes) a line every few seconds."""

    def __init__(self, console: Console) -> None:
        self.console = console
        self._live: Live | None = None
        self._title = ""
        self._duration = 1.0
        self._last_line = 0.0

    def note(self, message: str) -> None:
        self.console.print(
            literal(shorten(message, NOTE_LIMIT), keep_lines=True), highlight=False, soft_wrap=True
        )

    def started(self, scenario: str, variant: str, duration: float, host: str) -> None:
        self._title = f"{scenario} / {variant} against {host}"
        self._duration = duration
        self.note(f"playing {self._title} for {duration:g} s")
        if self.console.is_terminal:
            self._live = Live(console=self.console, refresh_per_second=4, transient=True)
            self._live.start()

    def update(self, elapsed: float, totals: LiveTotals, pool: PoolSnapshot | None) -> None:
        if self._live is not None:
            self._live.update(self._panel(elapsed, totals, pool))
        elif time.monotonic() - self._last_line >= 5:
            self._last_line = time.monotonic()
            used = NO_DATA if pool is None else f"{pool.used} used, {pool.pending} pending"
            if pool is not None and pool.threads_busy is not None:
                used += f"; threads {_threads(pool)}"
            self.note(
                f"  {elapsed:4.0f}/{self._duration:g} s  {totals.requests} requests "
                f"({totals.failures} failed)  p50 {_number(totals.p50_ms)} ms  pool: {used}"
            )

    def load_ended(self) -> None:
        pass

    def finished(self) -> None:
        if self._live is not None:
            self._live.stop()
            self._live = None

    def _panel(self, elapsed: float, totals: LiveTotals, pool: PoolSnapshot | None) -> Group:
        table = Table(show_header=False, box=None, pad_edge=False)
        table.add_row(
            "requests",
            f"{totals.requests} ({totals.failures} failed), {totals.requests_per_second:.1f}/s",
        )
        table.add_row(
            "latency", f"p50 {_number(totals.p50_ms)} ms, p95 {_number(totals.p95_ms)} ms"
        )
        if pool is not None:
            table.add_row(
                "pool",
                f"used {pool.used}/{pool.max_connections}, idle {pool.idle}, "
                f"pending {pool.pending}",
            )
            table.add_row(
                "", f"overflow {pool.overflow}, leaked {pool.leaked}, timeouts {pool.timeouts}"
            )
            if pool.threads_busy is not None:
                table.add_row("threads", _threads(pool))
        shown = min(elapsed, self._duration)
        bar = ProgressBar(total=self._duration, completed=shown, width=40)
        heading = Text(f"{visible(self._title)}  {shown:.0f}/{self._duration:g} s")
        return Group(heading, bar, table)


def _threads(pool: PoolSnapshot) -> str:
    limit = NO_DATA if pool.thread_limit is None else str(pool.thread_limit)
    return f"{pool.threads_busy}/{limit} busy, {pool.threads_waiting} waiting"


def _ms(seconds: float | None) -> str:
    return NO_DATA if seconds is None else f"{seconds * 1000:.1f}"


def _number(milliseconds: float | None) -> str:
    return NO_DATA if milliseconds is None else f"{milliseconds:.0f}"


def _timing(summary: TimingSummary) -> str:
    """p50 / p95 / max in ms; a maximum read from the buckets, not exact, says so (≈)."""
    if summary.count == 0:
        return NO_DATA
    exact = summary.max_exact or summary.max is None
    largest = _ms(summary.max) if exact else f"≈{_ms(summary.max)}"
    return f"{_ms(summary.p50)} / {_ms(summary.p95)} / {largest}"


def _route_rows(table: Table, runs: Sequence[Run]) -> None:
    """Per route: the mean hold and its share in statements."""
    names: list[str] = []
    for run in runs:
        for route in run.pool.routes if run.pool else []:
            if route.route not in names:
                names.append(route.route)
    if names:
        table.add_row("per route: hold / busy", *("" for _ in runs))
    for name in names:
        cells = []
        for run in runs:
            found = (
                next((r for r in run.pool.routes if r.route == name), None) if run.pool else None
            )
            if found is None:
                cells.append("-")  # the run held no connection on this route
            elif found.mean_hold is None:
                cells.append(NO_DATA)
            else:
                cells.append(f"{found.mean_hold * 1000:.1f} ms / {format_share(found.busy_share)}")
        # Text, not markup: a route is shown as given.
        table.add_row(literal(f"  {name or '(no route)'}"), *cells)


def render_summary(console: Console, runs: Sequence[Run]) -> None:
    table = Table(title=literal(f"poolscope run: {runs[0].scenario}" if runs else "poolscope run"))
    table.add_column("")
    for run in runs:
        heading = literal(run.variant + ("" if run.complete else " (incomplete)"))
        table.add_column(heading, justify="right")

    def row(label: str, *cells: str, end_section: bool = False) -> None:
        table.add_row(label, *cells, end_section=end_section)

    row(
        "requests (failed)",
        *(f"{r.locust.requests} ({r.locust.failures})" if r.locust else NO_DATA for r in runs),
    )
    row(
        "latency p50 / p95 ms",
        *(
            f"{_number(r.locust.latency_ms.p50)} / {_number(r.locust.latency_ms.p95)}"
            if r.locust
            else NO_DATA
            for r in runs
        ),
    )
    row("checkouts", *(str(r.pool.checkouts) if r.pool else NO_DATA for r in runs))
    row("wait p50 / p95 / max ms", *(_timing(r.pool.wait) if r.pool else NO_DATA for r in runs))
    row("use p50 / p95 / max ms", *(_timing(r.pool.use) if r.pool else NO_DATA for r in runs))
    if any(r.pool is not None and r.pool.idle is not None for r in runs):
        row(
            "idle p50 / p95 / max ms",
            *(_timing(r.pool.idle) if r.pool and r.pool.idle else NO_DATA for r in runs),
        )
        row(
            "busy share (in statements)",
            *(format_share(r.pool.busy_share) if r.pool else NO_DATA for r in runs),
        )
        _route_rows(table, runs)
    row("timeouts", *(str(r.pool.timeouts) if r.pool else NO_DATA for r in runs))
    row("connections opened", *(str(r.pool.connects) if r.pool else NO_DATA for r in runs))
    row(
        "pools created",
        *(str(r.pool.pools_created) if r.pool else NO_DATA for r in runs),
        end_section=True,
    )
    # What only the periodic reads of /metrics saw, apart from the exact counts above.
    row("sampled:", *("" for _ in runs))
    row(
        "max used / pending / overflow",
        *(
            f"{r.pool.max_used} / {r.pool.max_pending} / {r.pool.max_overflow}"
            if r.pool
            else NO_DATA
            for r in runs
        ),
    )
    if any(r.pool is not None and r.pool.max_threads_busy is not None for r in runs):
        row(
            "max threads busy / limit",
            *(
                f"{r.pool.max_threads_busy} / {r.pool.thread_limit or NO_DATA}"
                if r.pool and r.pool.max_threads_busy is not None
                else NO_DATA
                for r in runs
            ),
        )
        row(
            "thread-starved s",
            *(f"{r.pool.starved_seconds:.1f}" if r.pool else NO_DATA for r in runs),
        )
    console.print(table)
    console.print(
        "sampled: the most /metrics showed in its reads while the load ran, a few per "
        "second (a shorter peak can fall between two); the other pool figures count "
        "every checkout.",
        style="dim",
        highlight=False,
    )
    for run in runs:
        if run.warmup is not None:
            after = (
                f"the {run.configuration.duration_seconds:g} s after a {run.warmup.seconds:g} s "
                "warm-up (the run file keeps the whole run's under warmup)"
                if run.warmup.ended_at is not None
                else "the whole run: it stopped before its warm-up ended"
            )
            print_unbroken(console, literal(f"{run.variant}: figures cover {after}"))
    for run in runs:
        cause = starvation_cause(run.pool)
        if cause is not None:
            print_unbroken(console, literal(f"{run.variant}: {cause}"))
    for run in runs:
        idle_cause = held_idle_cause(run.pool)
        if idle_cause is not None:
            print_unbroken(console, literal(f"{run.variant}: {idle_cause}"))
    for run in runs:
        if run.pool is not None and run.pool.leak_reports:
            report = max(run.pool.leak_reports, key=lambda leak: leak.age_seconds)
            # The borrower's stack keeps its lines; its file paths are never cut in two.
            text = (
                f"{run.variant}: a connection held {report.age_seconds:.1f} s by route "
                f"{report.route or '(unknown)'}, borrowed at:\n{report.borrower}"
            )
            print_unbroken(console, literal(text, keep_lines=True))
    check = next((r.check for r in runs if r.check is not None), None)
    if check is not None:
        print_unbroken(console, literal(check.verdict, "green" if check.passed else "red"))
        for line in check.details:
            print_unbroken(console, literal(f"  {line}"))
