"""``poolscope compare`` on runs measured against the real PostgreSQL: every format says the
same thing, bad input is one line and exit 2, ``--fail-if`` gates exactly."""

from __future__ import annotations

import json
import os
import re
import shutil
import subprocess
import sys
from pathlib import Path

import pytest
from markdown_it import MarkdownIt
from PIL import Image
from playwright.sync_api import Page
from typer.testing import CliRunner

from poolscope.cli._app import app
from poolscope.compare import Comparison
from poolscope.compare._format import format_ratio
from poolscope.compare._svg import TOP as PLOT_TOP
from poolscope.loadtest import Run, load_run, write_run
from tests.support.browser import chromium

DATA = Path(__file__).parent.parent / "data"


@pytest.fixture
def runs_dir(tmp_path: Path) -> Path:
    """Real ``poolscope run engine-per-request --duration 10s`` output, as recorded."""
    directory = tmp_path / "runs"
    shutil.copytree(DATA / "runs" / "engine-per-request", directory)
    return directory


@pytest.fixture
def pair(runs_dir: Path) -> tuple[Path, Path]:
    (base,) = runs_dir.glob("engine-per-request-global-*.json")
    (other,) = runs_dir.glob("engine-per-request-per-request-*.json")
    return base, other


def compare(*args: str | Path) -> tuple[int, str, str]:
    result = CliRunner().invoke(app, ["compare", *map(str, args)])
    if result.exception is not None and not isinstance(result.exception, SystemExit):
        raise result.exception
    return result.exit_code, result.stdout, result.stderr


def test_table_shows_ratios_and_differences(pair: tuple[Path, Path], tmp_path: Path) -> None:
    base, other = (load_run(path) for path in pair)
    out = tmp_path / "report.txt"
    code, _, _ = compare(*pair, "--out", out)
    assert code == 0
    lines = {
        line.split("│")[1].strip(): line for line in out.read_text().splitlines() if "│" in line
    }
    assert base.locust is not None
    assert other.locust is not None
    assert base.pool is not None
    assert other.pool is not None
    ratio = other.locust.latency_ms.p50 / base.locust.latency_ms.p50
    assert format_ratio(ratio) in lines["latency p50"]
    assert f"+{other.pool.connects - base.pool.connects:,}" in lines["connections opened"]
    assert f"+{other.pool.pools_created - base.pool.pools_created:,}" in lines["pools created"]
    rps = other.locust.requests_per_second / base.locust.requests_per_second
    assert format_ratio(rps) in lines["requests/s"]
    assert "per-request vs global:" in out.read_text()


@pytest.mark.process
def test_a_narrow_terminal_shows_long_run_names_whole(
    pair: tuple[Path, Path], tmp_path: Path
) -> None:
    # Two runs of one variant: the columns are named by file, long names alike but for
    # their ends, which a cut would hide.
    base, _ = pair
    names = [
        "engine-per-request-global-20261130T100000",
        "engine-per-request-global-20261130T100100",
    ]
    for name in names:
        shutil.copy(base, tmp_path / f"{name}.json")
    paths = [str(tmp_path / f"{name}.json") for name in names]
    result = subprocess.run(
        [sys.executable, "-m", "poolscope", "compare", *paths],
        capture_output=True,
        text=True,
        env={**os.environ, "COLUMNS": "80"},
        timeout=60,
    )
    assert result.returncode == 0, result.stderr
    table = result.stdout.split("~ = within noise")[0]
    assert "…" not in table
    assert max(len(line) for line in table.splitlines()) <= 80
    # Each name, read down its column: the folds keep every character.
    header_rows = [
        line.split("┃")[1:-1] for line in table.split("┡")[0].splitlines() if "┃" in line
    ]
    columns = ["".join("".join(column).split()) for column in zip(*header_rows, strict=True)]
    assert columns[1].startswith(f"{names[0]}(baseline)")
    assert columns[2].startswith(names[1])


def test_verdict_names_the_engine_per_request_costs(pair: tuple[Path, Path]) -> None:
    comparison = Comparison.model_validate_json(compare(*pair, "--format", "json")[1])
    base, other = (load_run(path).pool for path in pair)
    assert base is not None
    assert other is not None
    (verdict,) = comparison.verdicts
    assert verdict.startswith("per-request vs global: ")
    assert f"connections opened {other.connects:,} instead of {base.connects:,}" in verdict
    assert re.search(r"latency p\d\d went from [\d.]+ ms to [\d.]+ ms \(×[\d.]+\)", verdict)


def test_markdown_is_one_valid_table(pair: tuple[Path, Path]) -> None:
    code, text, _ = compare(*pair, "--format", "markdown")
    assert code == 0
    tokens = MarkdownIt("commonmark").enable("table").parse(text)
    assert [t.type for t in tokens].count("table_open") == 1
    rows = [t for t in tokens if t.type == "tr_open"]
    comparison = Comparison.model_validate_json(compare(*pair, "--format", "json")[1])
    assert len(rows) == 1 + len(comparison.rows)
    cells_per_row = {
        sum(1 for t in tokens[tokens.index(row) :] if t.type in ("th_open", "td_open"))
        for row in rows[-1:]
    }
    assert cells_per_row == {4}
    assert any("per-request vs global" in t.content for t in tokens if t.type == "inline")


def test_json_round_trips(pair: tuple[Path, Path]) -> None:
    code, text, _ = compare(*pair, "--format", "json")
    assert code == 0
    comparison = Comparison.model_validate_json(text)
    assert json.loads(comparison.to_json()) == json.loads(text)
    assert [run.label for run in comparison.runs] == ["global", "per-request"]
    row = comparison.row("connects")
    assert row is not None
    assert row.changes[1] is not None
    assert row.changes[1].assessment == "worse"


def test_out_suffix_chooses_the_format(pair: tuple[Path, Path], tmp_path: Path) -> None:
    for name, check in (("r.md", "| figure |"), ("r.json", '"schema"'), ("r.html", "<svg")):
        code, _, err = compare(*pair, "--out", tmp_path / name)
        assert code == 0
        assert check in (tmp_path / name).read_text()
        assert f"wrote {tmp_path / name}" in err


def test_a_directory_stands_for_its_runs_in_start_order(runs_dir: Path) -> None:
    comparison = Comparison.model_validate_json(compare(runs_dir, "--format", "json")[1])
    assert [run.label for run in comparison.runs] == ["global", "per-request"]


def _with_locust(text: str, **values: float) -> str:
    data = json.loads(text)
    data["locust"].update(values)
    return json.dumps(data)


def _with_pool_wait(text: str, **values: float | str) -> str:
    data = json.loads(text)
    data["pool"]["wait"].update(values)
    return json.dumps(data)


def damaged(tmp_path: Path, good: Path) -> dict[str, Path]:
    text = good.read_text()
    files = {
        "truncated": text[: len(text) // 2],
        "not a run": json.dumps({"hello": "world"}),
        "unknown schema": text.replace("poolscope.run/1", "poolscope.run/7"),
        "negative count": _with_locust(text, requests=-5),
        "absurd failures": _with_locust(text, failures=10**30),
        "more failures than requests": _with_locust(text, failures=10**9),
        "infinite duration": _with_pool_wait(text, sum="Infinity"),
    }
    paths = {}
    for name, content in files.items():
        paths[name] = tmp_path / f"{name.replace(' ', '-')}.json"
        paths[name].write_text(content)
    return paths


@pytest.mark.parametrize(
    ("case", "message"),
    [
        ("missing", "no such file"),
        ("truncated", "not JSON, or truncated"),
        ("not a run", "not a poolscope run file"),
        ("unknown schema", "unknown run file schema 'poolscope.run/7'"),
        ("negative count", "not a plausible run file: locust.requests = -5"),
        ("absurd failures", "not a plausible run file: locust.failures = 1e+30"),
        ("more failures than requests", "locust failures = 1000000000 > requests"),
        ("infinite duration", "not a plausible run file: pool.wait.sum = inf"),
        ("empty directory", "no run files"),
        ("one run", "compare needs two or more runs; got 1"),
        ("no runs", "compare needs two or more runs; got 0"),
        ("bad format", "unknown format 'pdf'"),
        ("bad fail-if", "--fail-if 'wait_p95>>1': expected a number"),
        ("unknown figure", "unknown figure 'speed'"),
        ("unwritable out", "cannot write the report (no directory"),
        ("scenario and files", "give run files or --scenario, not both"),
        ("one-variant scenario", "scenario pool-saturation has one variant (default)"),
        ("no users", "--users must be at least 1, not 0"),
    ],
)
def test_bad_input_is_one_line_and_exit_2(
    case: str, message: str, pair: tuple[Path, Path], tmp_path: Path
) -> None:
    base = pair[0]
    bad = damaged(tmp_path, base)
    (tmp_path / "empty").mkdir()
    args: list[str | Path] = {
        "missing": [base, tmp_path / "absent.json"],
        "empty directory": [base, tmp_path / "empty"],
        "one run": [base],
        "no runs": [],
        "bad format": [*pair, "--format", "pdf"],
        "bad fail-if": [*pair, "--fail-if", "wait_p95>>1"],
        "unknown figure": [*pair, "--fail-if", "speed>1"],
        "unwritable out": [*pair, "--out", tmp_path / "no" / "such" / "dir.html"],
        "scenario and files": [*pair, "--scenario", "engine-per-request"],
        "one-variant scenario": ["--scenario", "pool-saturation"],
        "no users": ["--scenario", "engine-per-request", "--users", "0"],
    }.get(case, [base, bad.get(case, base)])
    # In process (an exception other than the exit raises here); the one real process
    # below proves what a user sees.
    code, out, err = compare(*args)
    assert code == 2, err
    assert err.count("\n") == 1, err
    assert err.startswith("poolscope: error: ")
    assert message in err
    assert out == ""


@pytest.mark.process
def test_a_real_process_prints_one_line_and_no_traceback(
    pair: tuple[Path, Path], tmp_path: Path
) -> None:
    truncated = damaged(tmp_path, pair[0])["truncated"]
    result = subprocess.run(
        [sys.executable, "-m", "poolscope", "compare", str(pair[0]), str(truncated)],
        capture_output=True,
        text=True,
        check=False,
    )
    assert result.returncode == 2, result.stderr
    assert result.stderr.count("\n") == 1, result.stderr
    assert result.stderr.startswith("poolscope: error: ")
    assert "not JSON, or truncated" in result.stderr
    assert "Traceback" not in result.stderr
    assert result.stdout == ""


def test_runs_of_different_scenarios_compare_with_a_warning(
    pair: tuple[Path, Path], tmp_path: Path
) -> None:
    other = load_run(pair[1]).model_copy(update={"scenario": "pool-saturation"})
    path = write_run(Run.model_validate(other.model_dump(by_alias=True)), tmp_path / "o.json")
    code, out, err = compare(pair[0], path, "--format", "markdown")
    assert code == 0
    assert "warning: the runs come from different scenarios" in err
    assert "engine-per-request, pool-saturation" in out


def figure(run: Run, key: str) -> float:
    assert run.pool is not None
    return float(getattr(run.pool, key))


@pytest.mark.parametrize("key", ["connects", "checkouts", "max_used"])
@pytest.mark.parametrize("offset", [-1, 0, 1])
def test_fail_if_exits_1_exactly_when_it_holds(
    key: str, offset: int, pair: tuple[Path, Path]
) -> None:
    base, other = (load_run(path) for path in pair)
    threshold = figure(other, key) + offset
    code, _, err = compare(*pair, "--format", "json", "--fail-if", f"{key}>{threshold}")
    holds = figure(other, key) > threshold
    assert code == (1 if holds else 0), err
    assert ("holds for per-request" in err) == holds
    ratio = figure(other, key) / figure(base, key)
    code, _, _ = compare(*pair, "--format", "json", "--fail-if", f"{key}_ratio>={ratio + offset}")
    assert code == (1 if ratio >= ratio + offset else 0)


def test_fail_if_with_units_and_connectives(pair: tuple[Path, Path]) -> None:
    other = load_run(pair[1])
    assert other.locust is not None
    p50_ms = other.locust.latency_ms.p50
    above, below = f"p50>{p50_ms - 0.5}ms", f"p50>{p50_ms + 0.5}ms"
    assert compare(*pair, "-f", "json", "--fail-if", above)[0] == 1
    assert compare(*pair, "-f", "json", "--fail-if", below)[0] == 0
    assert compare(*pair, "-f", "json", "--fail-if", f"{above} and {below}")[0] == 0
    assert compare(*pair, "-f", "json", "--fail-if", f"{below} or {above}")[0] == 1
    assert compare(*pair, "-f", "json", "--fail-if", below, "--fail-if", above)[0] == 1
    assert compare(*pair, "-f", "json", "--fail-if", "timeouts>0")[0] == 0


def coloured_pixels_per_chart(page: Page, shot: Path) -> list[int]:
    """Coloured pixels in each chart's plot area (below the legend; axes, grid and text
    are grey, so only drawn series count)."""
    page.screenshot(path=str(shot), full_page=True)
    charts = page.locator("svg.chart")
    image = Image.open(shot).convert("RGB")
    counts = []
    for index in range(charts.count()):
        box = charts.nth(index).bounding_box()
        assert box is not None
        left, top = int(box["x"]), int(box["y"]) + PLOT_TOP
        plot = image.crop((left, top, left + int(box["width"]), int(box["y"] + box["height"])))
        pixels = plot.tobytes()
        counts.append(
            sum(
                1
                for i in range(0, len(pixels), 3)
                if max(pixels[i : i + 3]) - min(pixels[i : i + 3]) > 80
            )
        )
    return counts


@pytest.mark.browser
@pytest.mark.slow
def test_html_opens_in_chromium_with_charts_drawn(pair: tuple[Path, Path], tmp_path: Path) -> None:
    page_path = tmp_path / "report.html"
    assert compare(*pair, "--out", page_path)[0] == 0
    # The same runs without their samples: the charts must then come out empty, which
    # shows the pixel count below measures drawn lines.
    bare = [tmp_path / "bare-global.json", tmp_path / "bare-per-request.json"]
    for source, target in zip(pair, bare, strict=True):
        write_run(load_run(source).model_copy(update={"samples": []}), target)
    bare_page = tmp_path / "bare.html"
    assert compare(*bare, "--out", bare_page)[0] == 0
    with chromium() as browser:
        page = browser.new_page()
        console: list[str] = []
        requests: list[str] = []
        page.on("console", lambda message: console.append(f"{message.type}: {message.text}"))
        page.on("pageerror", lambda error: console.append(f"pageerror: {error}"))
        page.on("request", lambda request: requests.append(request.url))
        page.goto(page_path.as_uri())
        drawn = coloured_pixels_per_chart(page, tmp_path / "report.png")
        table_rows = page.locator("table.comparison tbody tr").count()
        intervals = page.locator("td[title^='95 % interval']").count()
        page.goto(bare_page.as_uri())
        empty = coloured_pixels_per_chart(page, tmp_path / "bare.png")
    assert console == []
    # Self-contained: nothing fetched but the pages themselves.
    assert requests == [page_path.as_uri(), bare_page.as_uri()]
    comparison = Comparison.model_validate_json(compare(*pair, "-f", "json")[1])
    assert table_rows == len(comparison.rows)
    # Every figure with an interval shows it on hover.
    assert intervals == sum(1 for row in comparison.rows for c in row.cells if c.low is not None)
    assert intervals > 0
    # Two charts per run, connections and wait percentiles, each with lines drawn.
    assert len(drawn) == 4
    assert min(drawn) > 300, drawn
    assert empty == [0, 0, 0, 0]


@pytest.mark.e2e
@pytest.mark.process
@pytest.mark.slow
def test_scenario_variants_are_played_and_compared(database_url: str, tmp_path: Path) -> None:
    """``--scenario``: poolscope run's machinery plays both variants for real, then the
    comparison gates on what the anti-pattern costs. The only live play of
    engine-per-request: its own check passes on both runs."""
    runs = tmp_path / "runs"
    result = subprocess.run(
        [
            sys.executable,
            "-m",
            "poolscope",
            "compare",
            "--scenario",
            "engine-per-request",
            "--duration",
            "5s",
            "--users",
            "4",
            "--database-url",
            database_url,
            "--runs-dir",
            str(runs),
            "--format",
            "json",
            "--fail-if",
            "pools_created_diff>0",
        ],
        capture_output=True,
        text=True,
        check=False,
        timeout=170,
    )
    comparison = Comparison.model_validate_json(result.stdout)
    assert [run.label for run in comparison.runs] == ["global", "per-request"]
    assert sorted(Path(run.path).parent for run in comparison.runs) == [runs, runs]
    pools = comparison.row("pools_created")
    assert pools is not None
    created = pools.cells[1].value
    assert created is not None
    # Every per-request request built its own pool, so the gate trips, and says why.
    assert created > 0
    assert result.returncode == 1, result.stderr
    assert f"pools_created_diff = +{created:,.0f}" in result.stderr
    password = database_url.split("@")[0].split(":")[-1]
    assert password not in result.stdout + result.stderr
    for played in map(load_run, sorted(runs.glob("*.json"))):
        assert played.complete, played.incomplete_reason
        assert played.check is not None
        assert played.check.passed, "\n".join([played.check.verdict, *played.check.details])
        assert password not in played.to_json()


def test_notes_say_how_setups_differ_and_how_scenario_checks_went(
    pair: tuple[Path, Path], tmp_path: Path
) -> None:
    base_size = load_run(pair[0]).configuration.pool_size
    other = json.loads(pair[1].read_text())
    other["configuration"]["pool_size"] = base_size + 1
    other["check"] = {"passed": False, "verdict": "pools created per request: 240"}
    path = tmp_path / "other.json"
    path.write_text(json.dumps(other))
    code, out, _ = compare(pair[0], path, "--format", "json")
    assert code == 0
    assert Comparison.model_validate_json(out).notes == [
        f"setups differ in pool_size: {base_size} (global), {base_size + 1} (per-request)",
        "global: scenario check passed: engine-per-request: as expected",
        "per-request: scenario check FAILED: pools created per request: 240",
    ]


def test_session_leak_timeouts_and_leaks_are_told_and_gated(tmp_path: Path) -> None:
    directory = DATA / "runs" / "session-leak"
    (fixed,) = directory.glob("session-leak-fixed-*.json")
    (leaky,) = directory.glob("session-leak-leaky-*.json")
    pool = load_run(leaky).pool
    assert pool is not None
    assert pool.timeouts > 0
    code, out, err = compare(directory, "--format", "markdown", "--fail-if", "timeouts>0")
    assert code == 1
    assert f"checkout timeouts {pool.timeouts} instead of 0" in out
    assert f"holds for leaky: timeouts = {pool.timeouts}" in err
    assert compare(fixed, leaky, "-f", "json", "--fail-if", f"leaks_diff>={pool.leaks}")[0] == 1
    assert compare(fixed, leaky, "-f", "json", "--fail-if", f"leaks_diff>{pool.leaks}")[0] == 0
    # leaky also hits /antipatterns/leak: per-endpoint rows, addressable by --fail-if.
    assert "| latency p95 GET /antipatterns/leak |" in out
    assert compare(fixed, leaky, "-f", "json", "--fail-if", "p95[/antipatterns/leak]>0")[0] == 1
    # In reverse order the fixed run is the candidate: nothing holds.
    assert compare(leaky, fixed, "-f", "json", "--fail-if", "timeouts>0")[0] == 0


def test_markdown_keeps_odd_names_literal(pair: tuple[Path, Path], tmp_path: Path) -> None:
    other = json.loads(pair[1].read_text())
    other["variant"] = "new_*pool*|v2 [x]"
    path = tmp_path / "odd.json"
    path.write_text(json.dumps(other))
    code, text, _ = compare(pair[0], path, "--format", "markdown")
    assert code == 0
    html = MarkdownIt("commonmark").enable("table").render(text)
    assert '<th style="text-align:right">new_*pool*|v2 [x] (pool 10 + 0)</th>' in html
    assert "<li>new_*pool*|v2 [x] vs global: " in html
    header = html.split("</thead>")[0]
    assert "<em>" not in header
    assert header.count("</th>") == 4


def test_three_runs_each_against_the_first(pair: tuple[Path, Path]) -> None:
    (leaky,) = (DATA / "runs" / "session-leak").glob("session-leak-leaky-*.json")
    code, text, err = compare(*pair, leaky, "--format", "json")
    assert code == 0
    comparison = Comparison.model_validate_json(text)
    assert [run.label for run in comparison.runs] == ["global", "per-request", "leaky"]
    assert [line.split(":")[0] for line in comparison.verdicts] == [
        "per-request vs global",
        "leaky vs global",
    ]
    assert "different scenarios (engine-per-request, session-leak)" in err
    timeouts = comparison.row("timeouts")
    assert timeouts is not None
    assert timeouts.changes[0] is None
    leaky_pool = load_run(leaky).pool
    assert leaky_pool is not None
    third = timeouts.changes[2]
    assert third is not None
    assert third.difference == leaky_pool.timeouts
    assert third.assessment == "worse"
