"""At 80 columns, a leak report's and a verdict's file paths stay whole: rich wraps between
words and never cuts a path in two (a log or a copy of the terminal holds it as it is)."""

from __future__ import annotations

import io
import json

from rich.console import Console

from poolscope.compare import LoadedRun, build_comparison, write_table
from poolscope.loadtest import Run, render_summary
from tests.support.hostile import BASELINE_RUN, OTHER_RUN, leaky_run_json

PATH = "/home/someone/projects/service/.venv/lib/python3.11/site-packages/sqlmodel/orm/session.py"


def console() -> tuple[Console, io.StringIO]:
    output = io.StringIO()
    return Console(file=output, width=80, force_terminal=False, no_color=True), output


def test_a_leak_report_keeps_its_paths_whole() -> None:
    data = json.loads(leaky_run_json())
    data.update(variant="leaky", scenario="session-leak", check=None)
    data["pool"]["leak_reports"][0].update(route="/items", borrower=f'  File "{PATH}", line 81')
    shown, output = console()
    render_summary(shown, [Run.model_validate(data)])
    assert f'"{PATH}",' in output.getvalue().splitlines()


def test_a_verdict_keeps_a_long_name_whole() -> None:
    runs = []
    for source, variant in ((BASELINE_RUN, "fixed"), (OTHER_RUN, f"leaky-{PATH}")):
        data = json.loads(source.read_text())
        data["variant"] = variant
        runs.append(LoadedRun(path=source, run=Run.model_validate(data)))
    comparison = build_comparison(runs)
    shown, output = console()
    write_table(comparison, shown)
    verdict_lines = output.getvalue().split("\n~ = within noise")[1].splitlines()
    assert any(line.strip().startswith(f"leaky-{PATH}") for line in verdict_lines), verdict_lines
