"""The Markdown report shows a name as written, whatever it holds: a pipe, a carriage
return or a newline cannot break its table or list, markup characters stay characters,
control characters are their escapes (the report may be printed to a terminal), and a
name of a megabyte is cut as the HTML report cuts it; the sweep's page bounds its strings
the same way."""

from __future__ import annotations

import html
import json
import re
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import pytest
from markdown_it import MarkdownIt
from typer.testing import CliRunner

from poolscope.cli._app import app
from poolscope.compare import TEXT_LIMIT
from poolscope.readings import visible
from poolscope.sweep import Recommendation, Sweep, SweepConfiguration, render_html
from tests.support.hostile import (
    BASELINE_RUN,
    CLEAR,
    OTHER_LABEL,
    OTHER_RUN,
    RAW,
    TITLE,
    write_pair,
)

pytestmark = pytest.mark.timeout(30)

# Everything that would end a cell, a row or a list item, or be read as Markdown or HTML.
NAME = f"- 1. a|b\rc\nd {CLEAR}{TITLE} *em* _u_ `code` ~~del~~ &amp; <b>x</b> [l](u) # h \\"


def markdown_of(tmp_path: Path, variant: str) -> str:
    data = json.loads(OTHER_RUN.read_text())
    data["variant"] = variant
    path = tmp_path / "named.json"
    path.write_text(json.dumps(data))
    result = CliRunner().invoke(
        app, ["compare", str(BASELINE_RUN), str(path), "--format", "markdown"]
    )
    assert result.exit_code == 0, result.output
    return result.stdout


def rendered(markdown: str) -> tuple[list[Any], str]:
    parser = MarkdownIt("commonmark").enable("table").enable("strikethrough")
    return parser.parse(markdown), parser.render(markdown)


def test_a_hostile_name_keeps_the_table_whole_and_prints_literally(tmp_path: Path) -> None:
    markdown = markdown_of(tmp_path, NAME)
    for raw in (*RAW, b"\r"):
        assert raw not in markdown.encode()
    tokens, page = rendered(markdown)
    assert [token.type for token in tokens].count("table_open") == 1
    header = page.split("</thead>")[0]
    assert header.count("</th>") == 4
    shown = visible(NAME)
    assert shown.startswith("- 1. a|b\\x0dc\\x0ad \\x1b[2J")
    cell = re.findall(r'<th style="text-align:right">(.*?)</th>', header)[1]
    assert html.unescape(cell).startswith(f"{shown} (pool ")
    # Shown as its text: an emphasis, tag, link, entity or strike-through made of it would
    # differ from it; and no list was opened in the verdicts' list.
    assert "<ol" not in page
    assert page.count("<ul>") == 1  # the verdicts' list, none nested in it
    items = re.findall(r"<li>(.*?)</li>", page, re.S)
    assert any(html.unescape(item).startswith(f"{shown} vs ") for item in items)


def test_a_long_name_is_cut_with_its_length_said(tmp_path: Path) -> None:
    markdown = markdown_of(tmp_path, "|" + "y" * 1_000_000)
    assert len(markdown) < 50 * TEXT_LIMIT
    assert "… (1,000,001 characters)" in markdown
    tokens, _ = rendered(markdown)
    assert [token.type for token in tokens].count("table_open") == 1


def test_the_sweep_page_bounds_and_shows_each_string(tmp_path: Path) -> None:
    long = f"{CLEAR}<script>" + "z" * 1_000_000
    now = datetime.now(UTC)
    sweep = Sweep(
        scenario=long,
        partial=True,
        partial_reason=long,
        started_at=now,
        finished_at=now,
        wall_seconds=1,
        max_connections=None,
        warnings=[long, long],
        steps=[],
        configuration=SweepConfiguration(
            parameter="pool_size",
            values=[1],
            duration_seconds=1,
            users=1,
            pool_size=None,
            max_overflow=0,
            target_wait_p95=0.05,
            driver="psycopg2",
            database_url="-",
            service_workers=1,
        ),
        recommendation=Recommendation(
            parameter="pool_size",
            target_wait_p95=0.05,
            recommended=None,
            best=None,
            plateau=None,
            littles_law=None,
            saturated=None,
            text=long,
        ),
    )
    page = render_html(sweep)
    assert len(page) < 100_000
    assert "<script>" not in page
    assert CLEAR not in page
    assert "\\x1b[2J&lt;script&gt;zzz" in page
    # Cut where the name is shown: as the verdict, the reason and both warnings, and
    # within the title and the heading.
    assert page.count(f"… ({len(visible(long)):,} characters)") == 4
    assert page.count(" characters)") == 6


def test_the_json_report_holds_names_whole_and_nothing_a_terminal_obeys(tmp_path: Path) -> None:
    first, second = write_pair(tmp_path)
    result = CliRunner().invoke(app, ["compare", str(first), str(second), "--format", "json"])
    assert result.exit_code == 0, result.output
    for raw in RAW:
        assert raw not in result.stdout.encode()
    # Escaped in JSON, the same name to whoever reads it.
    assert json.loads(result.stdout)["runs"][1]["label"] == OTHER_LABEL
