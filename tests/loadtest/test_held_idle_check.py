"""The held-idle diagnosis, the run summary and compare's verdict on recorded run files (a
real ``poolscope run held-idle --driver asyncpg`` of both variants, in tests/data/runs; the
scenario's own check on them is in test_scenario_checks.py)."""

from __future__ import annotations

import re
from pathlib import Path

from rich.console import Console

from poolscope.compare import FORMATS, build_comparison, load_runs, render
from poolscope.loadtest._progress import render_summary
from poolscope.readings import held_idle_cause, load_run

RECORDED = Path(__file__).parent.parent / "data" / "runs" / "held-idle"
ACROSS = "/held-idle/across-call"


def recorded() -> dict[str, Path]:
    paths = sorted(RECORDED.glob("*.json"))
    return {load_run(path).variant: path for path in paths}


def test_the_recorded_across_call_names_its_route_and_released_none() -> None:
    paths = recorded()
    cause = held_idle_cause(load_run(paths["across-call"]).pool)
    assert cause is not None
    assert cause.startswith(f"{ACROSS} holds its connection ")
    assert held_idle_cause(load_run(paths["released"]).pool) is None


def test_compare_names_the_route_held_idle_in_every_format() -> None:
    paths = recorded()
    runs = load_runs([paths["released"], paths["across-call"]])
    comparison = build_comparison(runs)
    assert any(line.startswith(f"across-call: {ACROSS} holds") for line in comparison.verdicts)
    for output in FORMATS:
        report = render(comparison, runs, output)
        assert f"{ACROSS} holds its connection" in report, output
        assert "busy share" in report, output
        assert f"busy share {ACROSS}" in report, output


def test_the_run_summary_shows_hold_and_busy_share_per_route() -> None:
    paths = recorded()
    runs = [load_run(paths["across-call"]), load_run(paths["released"])]
    console = Console(width=100, record=True, force_terminal=False)
    render_summary(console, runs)
    text = console.export_text()
    assert re.search(r"busy share \(in statements\) +│ +3\.6 % │ +71 % │", text), text
    assert re.search(r"/held-idle/across-call +│ +472\.6 ms / 3\.6 % │ +- │", text), text
    assert re.search(r"idle p50 / p95 / max ms +│ +545\.3 / 545\.3 / 571\.3 │", text), text
    assert f"across-call: {held_idle_cause(runs[0].pool)}" in " ".join(text.split())
