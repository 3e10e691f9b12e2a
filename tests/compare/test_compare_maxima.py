"""Maxima are exact, so ``poolscope compare`` tells apart two runs whose longest holds
differ, in every format, even when both fall in one bucket of the OpenTelemetry histogram
(the coarse buckets made both read "50 ms" and the row said ``=``)."""

from __future__ import annotations

import re
from pathlib import Path

import pytest
from prometheus_client import CollectorRegistry, generate_latest
from sqlalchemy import Engine, create_engine
from typer.testing import CliRunner

import poolscope
from poolscope._urls import url_for_driver
from poolscope.cli._app import app
from poolscope.compare import Comparison
from poolscope.loadtest import Run, load_run, parse_metrics, write_run
from poolscope.readings import TimedSnapshot, summarize_pool

DATA = Path(__file__).parent.parent / "data" / "runs" / "engine-per-request"
LABEL = "connection use max"


def recorded(run: Run, engine: Engine, uses: list[float], variant: str) -> Run:
    """The recorded run with the pool summary poolscope run makes of ``uses``: held by the
    instrumented engine's checkouts, exported, scraped and summarized."""
    registry = CollectorRegistry()
    with poolscope.instrument(engine, pool="compare", registry=registry) as instrumentation:
        baseline = parse_metrics(generate_latest(registry).decode())
        instrumentation.probe.uses_for("/items").extend(uses)
        instrumentation.probe.waits.extend([0.0] * len(uses))
        after = parse_metrics(generate_latest(registry).decode())
    pool = summarize_pool(baseline, [TimedSnapshot(t=10.0, snapshot=after)])
    return run.model_copy(update={"pool": pool, "variant": variant})


@pytest.fixture
def two_runs(tmp_path: Path, database_url: str) -> tuple[Path, Path]:
    (path,) = DATA.glob("engine-per-request-global-*.json")
    run = load_run(path)
    engine = create_engine(url_for_driver(database_url, "psycopg2"))
    try:
        # Longest holds of 50 ms and 60 ms: one bucket, (0.05, 0.1], of the default ones.
        first = recorded(run, engine, [0.004] * 200 + [0.050], "first")
        second = recorded(run, engine, [0.004] * 200 + [0.060], "second")
    finally:
        engine.dispose()
    return write_run(first, tmp_path / "first.json"), write_run(second, tmp_path / "second.json")


def compare(*args: str | Path) -> str:
    result = CliRunner().invoke(app, ["compare", *map(str, args)])
    assert result.exit_code == 0, result.output
    return result.stdout


def test_every_format_shows_the_20_percent_longer_hold(two_runs: tuple[Path, Path]) -> None:
    table_line = next(line for line in compare(*two_runs).splitlines() if LABEL in line)
    assert "50 ms" in table_line
    assert "60 ms" in table_line
    assert "×1.2" in table_line
    assert not table_line.rstrip(" │").endswith("=")

    markdown = compare(*two_runs, "--format", "markdown")
    markdown_row = next(line for line in markdown.splitlines() if LABEL in line)
    cells = [cell.strip() for cell in markdown_row.strip("|").split("|")]
    assert cells[1:] == ["50 ms", "60 ms", "**×1.2**"], cells  # bold: a real change

    comparison = Comparison.model_validate_json(compare(*two_runs, "--format", "json"))
    row = comparison.row("use_max")
    assert row is not None
    assert row.kind == "exact"
    assert [cell.value for cell in row.cells] == [0.050, 0.060]  # exact
    change = row.changes[1]
    assert change is not None
    assert change.assessment == "worse"
    assert change.ratio == pytest.approx(1.2)

    html = compare(*two_runs, "--format", "html")
    html_row = re.search(rf"<tr[^>]*><td>{LABEL}</td>(.*?)</tr>", html)
    assert html_row is not None, html
    assert re.findall(r"<td[^>]*>([^<]*)</td>", html_row.group(1)) == ["50 ms", "60 ms", "×1.2"]
