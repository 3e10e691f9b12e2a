"""The sweep in the terminal (rich): one row per step, then the recommendation."""

from __future__ import annotations

from collections.abc import Callable

from rich import box
from rich.console import Console
from rich.table import Table
from rich.text import Text

from poolscope.readings import NO_DATA, literal, print_unbroken, route_lines
from poolscope.sweep._model import Step, Sweep

__all__ = ["write_report"]


# In a cell, over two lines: a row that measured nothing then stays within 80 columns.
_NO_DATA_CELL = NO_DATA.replace(" ", "\n")


def _cell(value: float | None, shown: Callable[[float], str]) -> str:
    return _NO_DATA_CELL if value is None else shown(value)


def _ms(seconds: float) -> str:
    return f"{seconds * 1000:.0f}"


def _gain(step: Step, previous: Step | None) -> str:
    if previous is None or previous.throughput <= 0:
        return ""
    return f"×{step.throughput / previous.throughput:.2f}"


def _table(sweep: Sweep) -> Table:
    parameter = sweep.configuration.parameter
    target = sweep.configuration.target_wait_p95
    title = f"poolscope sweep: {sweep.scenario or sweep.locustfile}" + (
        " (partial)" if sweep.partial else ""
    )
    # Eleven columns within 80 characters: no borders, the box's blank divider as the only
    # space between columns, and cells never cut (a figure shown as "0/1…" is lost).
    table = Table(
        title=literal(title), title_justify="left", box=box.SIMPLE_HEAD, padding=0, show_edge=False
    )
    table.add_column("pool" if parameter == "pool_size" else "users", justify="right")
    table.add_column("users" if parameter == "pool_size" else "pool", justify="right")
    for heading in (
        "req/s",
        "gain",
        "p50/p95\nms",
        "wait\np95≈ ms",
        "held\nms",
        "L=λ·W",
        "used\navg/max",
        "pend",
        "failed",
    ):
        table.add_column(heading, justify="right", no_wrap=True)
    previous: Step | None = None
    for step in sweep.steps:
        first, second = (step.pool_size, step.users)
        if parameter == "users":
            first, second = second, first
        meets = step.wait_p95 is not None and step.wait_p95 < target
        busy = step.littles_busy
        table.add_row(
            # "(incomplete)" would not fit the column: marked here, said below the table.
            f"{first}" + ("" if step.complete else "*"),
            str(second),
            f"{step.throughput:.1f}",
            _gain(step, previous),
            _NO_DATA_CELL
            if step.latency_p50_ms is None or step.latency_p95_ms is None
            else f"{step.latency_p50_ms:.0f}/{step.latency_p95_ms:.0f}",
            Text(_cell(step.wait_p95, _ms), style="green" if meets else "red"),
            _cell(step.mean_use, lambda seconds: f"{seconds * 1000:.1f}"),
            _cell(busy, lambda connections: f"{connections:.2f}"),
            _cell(step.mean_used, lambda connections: f"{connections:.2f}") + f"/{step.max_used}",
            str(step.max_pending),
            f"{step.failures}/{step.requests}",
        )
        previous = step if step.complete else previous
    return table


def write_report(sweep: Sweep, console: Console) -> None:
    console.print(_table(sweep))
    console.print(
        "p50/p95: Locust's latency; wait p95≈: estimated from the pool's wait-time "
        f"histogram (target: under {_ms(sweep.configuration.target_wait_p95)} ms); "
        "held: the exact mean connection use time; L=λ·W: Little's law, "
        "checkout rate × mean hold; used avg: the sampled gauge while the load ran.",
        style="dim",
        highlight=False,
    )
    for step in sweep.steps:
        if not step.complete:
            by_pool = sweep.configuration.parameter == "pool_size"
            named = f"pool {step.pool_size}" if by_pool else f"{step.users} users"
            reason = f": {step.incomplete_reason}" if step.incomplete_reason else ""
            print_unbroken(console, literal(f"* {named}: incomplete{reason}", "yellow"))
    for step in sweep.steps:
        lines = route_lines(step.routes)
        if lines and step.busy_share is not None:
            # Per route, below the table (no room in 80 columns); Text: shown as given.
            busy = f"busy {step.busy_share * 100:.1f} % (in statements)"
            console.print(
                literal(f"pool {step.pool_size}, {step.users} users, {busy}: " + "; ".join(lines)),
                highlight=False,
            )
    for warning in sweep.warnings:
        print_unbroken(console, literal(f"warning: {warning}", "yellow"))
    if sweep.partial:
        print_unbroken(console, literal(f"partial: {sweep.partial_reason}", "yellow"))
    if sweep.recommendation is not None:
        print_unbroken(console, literal(sweep.recommendation.text, "bold"))
    console.print(
        f"{len(sweep.steps)} step(s) of {sweep.configuration.duration_seconds:g} s in "
        f"{sweep.wall_seconds:.0f} s",
        style="dim",
        highlight=False,
    )
