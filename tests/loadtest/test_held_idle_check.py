"""The held-idle scenario's check, and compare's verdict, on recorded run files (a real
``poolscope run held-idle --driver asyncpg`` of both variants, in tests/data/runs)."""

from __future__ import annotations

import re
from pathlib import Path

from rich.console import Console

from poolscope.compare import FORMATS, build_comparison, load_runs, render
from poolscope.loadtest._catalog import check_runs
from poolscope.loadtest._progress import render_summary
from poolscope.readings import Run, held_idle_cause, load_run, write_run

RECORDED = Path(__file__).parent.parent / "data" / "runs" / "held-idle"
ACROSS = "/held-idle/across-call"


def recorded() -> dict[str, Path]:
    paths = sorted(RECORDED.glob("*.json"))
    return {load_run(path).variant: path for path in paths}


def with_route_statements(run: Run, share: float) -> Run:
    """The run as if its across-call route had spent ``share`` of its holds in statements."""
    assert run.pool is not None
    routes = [
        route.model_copy(update={"statement_seconds": share * route.held_seconds})
        if route.route == ACROSS
        else route
        for route in run.pool.routes
    ]
    return run.model_copy(update={"pool": run.pool.model_copy(update={"routes": routes})})


def test_recorded_runs_pass_the_check_and_name_the_route() -> None:
    paths = recorded()
    check = check_runs("held-idle", [paths["across-call"], paths["released"]])
    assert check.passed, check.details
    assert check.verdict == f"held-idle: as expected: {ACROSS} holds its connections idle"
    across = load_run(paths["across-call"])
    cause = held_idle_cause(across.pool)
    assert cause is not None
    assert cause.startswith(f"{ACROSS} holds its connection ")
    assert held_idle_cause(load_run(paths["released"]).pool) is None


def test_a_busy_across_call_fails_the_check(tmp_path: Path) -> None:
    paths = recorded()
    busy = with_route_statements(load_run(paths["across-call"]), 0.5)
    check = check_runs("held-idle", [write_run(busy, tmp_path / "busy.json"), paths["released"]])
    assert not check.passed
    assert "in statements 50 % of each hold" in check.verdict
    assert "route named as holding idle: none" in " ".join(check.details)


def test_released_no_faster_fails_the_check(tmp_path: Path) -> None:
    paths = recorded()
    across = load_run(paths["across-call"])
    # across-call's own figures relabelled as the released variant: x1.0.
    slow = across.model_copy(update={"variant": "released"})
    check = check_runs(
        "held-idle", [paths["across-call"], write_run(slow, tmp_path / "released.json")]
    )
    assert not check.passed
    assert "(x1.0, at least x3 expected)" in " ".join(check.details)


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
