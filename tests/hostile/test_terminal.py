"""Under a real pseudo-terminal (rich renders for a terminal, colours and all), payloads
that would clear the screen, set the title, write the clipboard or ring the bell, and rich
markup, go through every place poolscope prints a name: compare's table, verdicts,
warnings and --fail-if reasons, the run summary and its leak report, the progress lines
and the sweep. None reaches the terminal raw; each shows as written."""

from __future__ import annotations

import re
import sys
import textwrap
from pathlib import Path

import pytest

from tests.support.hostile import (
    BROKEN_MARKUP,
    CLEAR,
    ENDPOINTS,
    MARKUP,
    RAW,
    TITLE,
    leaky_run_json,
    run_in_terminal,
    write_pair,
)

pytestmark = [pytest.mark.slow, pytest.mark.process, pytest.mark.timeout(120)]

_STYLE = re.compile(rb"\x1b\[[0-9;]*m")


def assert_shown_not_obeyed(output: bytes) -> None:
    assert _STYLE.search(output), "rich did not render for a terminal"
    plain = _STYLE.sub(b"", output)
    for raw in RAW:
        assert raw not in plain, (raw, output)
    assert b"Traceback" not in output
    assert CLEAR.encode("unicode_escape") in plain  # \x1b[2J, as text


def test_compare_prints_names_as_written(tmp_path: Path) -> None:
    first, second = write_pair(tmp_path)
    code, output = run_in_terminal(
        [
            sys.executable,
            "-m",
            "poolscope",
            "compare",
            str(first),
            str(second),
            "--fail-if",
            f"p95[POST {ENDPOINTS[0]}]>0ms",
        ],
        tmp_path,
    )
    assert code == 1, output
    assert_shown_not_obeyed(output)
    plain = _STYLE.sub(b"", output)
    assert BROKEN_MARKUP.encode() in plain  # rich would have raised a MarkupError
    assert b"[bold red]x[/]" in plain
    assert f"p95[POST {ENDPOINTS[0]}] =".encode() in plain
    assert b"[create]" in plain
    assert b"[list]" in plain


SHOW_SCRIPT = textwrap.dedent(
    """
    import sys
    from datetime import UTC, datetime
    from pathlib import Path

    from rich.console import Console

    from poolscope.loadtest import LiveTotals, RichReporter, load_run, render_summary
    from poolscope.sweep import Recommendation, Sweep, SweepConfiguration, write_report

    payload = sys.argv[2]
    console = Console()
    render_summary(console, [load_run(Path(sys.argv[1]))])
    reporter = RichReporter(console)
    reporter.note(payload)
    reporter.started(payload, payload, 1.0, "http://127.0.0.1/" + payload)
    reporter.update(0.5, LiveTotals(), None)
    reporter.finished()
    now = datetime.now(UTC)
    sweep = Sweep(
        scenario=payload, partial=True, partial_reason=payload, started_at=now,
        finished_at=now, wall_seconds=1, max_connections=None, warnings=[payload], steps=[],
        configuration=SweepConfiguration(
            parameter="pool_size", values=[1], duration_seconds=1, users=1, pool_size=None,
            max_overflow=0, target_wait_p95=0.05, driver="psycopg2", database_url="-",
            service_workers=1,
        ),
        recommendation=Recommendation(
            parameter="pool_size", target_wait_p95=0.05, recommended=None, best=None,
            plateau=None, littles_law=None, saturated=None, text=payload,
        ),
    )
    write_report(sweep, console)
    """
)


def test_the_run_summary_progress_and_sweep_print_names_as_written(tmp_path: Path) -> None:
    run_file = tmp_path / "run.json"
    run_file.write_text(leaky_run_json())
    payload = f"{MARKUP}{CLEAR}{TITLE}{BROKEN_MARKUP}"
    code, output = run_in_terminal(
        [sys.executable, "-c", SHOW_SCRIPT, str(run_file), payload], tmp_path
    )
    assert code == 0, output
    assert_shown_not_obeyed(output)
    plain = _STYLE.sub(b"", output)
    assert b"[bold red]x[/]" in plain
    assert b'File "/srv/app/crud.py\\x1b[2J", line 9' in plain  # the leak report's borrower
