"""The sweep in the terminal (rich): one row per step, then the recommendation."""

from __future__ import annotations

from rich import box
from rich.console import Console
from rich.table import Table
from rich.text import Text

from poolscope.readings import literal, print_unbroken, route_lines
from poolscope.sweep._model import Step, Sweep

__all__ = ["write_report"]


def _ms(seconds: float | None) -> str:
    return "–" if seconds is None else f"{seconds * 1000:.0f}"


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
            f"{first}" + ("" if step.complete else " (incomplete)"),
            str(second),
            f"{step.throughput:.1f}",
            _gain(step, previous),
            "–"
            if step.latency_p50_ms is None or step.latency_p95_ms is None
            else f"{step.latency_p50_ms:.0f}/{step.latency_p95_ms:.0f}",
            Text(_ms(step.wait_p95), style="green" if meets else "red"),
            "–" if step.mean_use is None else f"{step.mean_use * 1000:.1f}",
            "–" if busy is None else f"{busy:.2f}",
            ("–" if step.mean_used is None else f"{step.mean_used:.2f}") + f"/{step.max_used}",
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
