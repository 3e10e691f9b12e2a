"""Arguments out of range: refused with one line and exit 2 before anything starts (no
service, no Locust, no database), and never a traceback, in process and as a user runs it."""

from __future__ import annotations

import os
from pathlib import Path
from typing import Any

import pytest
from typer.testing import CliRunner

from poolscope.cli._app import app
from poolscope.cli._limits import PROCESSES_PER_CORE
from tests.support.hostile import BASELINE_RUN, OTHER_RUN
from tests.support.runs import run_poolscope

pytestmark = pytest.mark.timeout(30)

TOO_MANY_PROCESSES = str((os.cpu_count() or 1) * PROCESSES_PER_CORE + 1)
STEPS = ",".join(str(size) for size in range(1, 22))


def invoke(*arguments: str) -> Any:
    return CliRunner().invoke(app, list(arguments))


@pytest.mark.parametrize(
    ("arguments", "said"),
    [
        (["run", "steady", "--processes", "1000"], "--processes 1000 is above the limit"),
        (["run", "steady", "--processes", TOO_MANY_PROCESSES], "per CPU core"),
        (["run", "steady", "--users", "100000"], "--users 100000 is above the limit of 10,000"),
        (["run", "steady", "--spawn-rate", "5000"], "--spawn-rate 5000 is above"),
        (["run", "steady", "--duration", "99999999999s"], "is above the limit of 24 h"),
        (["run", "steady", "--duration", "soon"], "cannot read duration 'soon'"),
        (["run", "steady", "--out", "/proc/x"], "a kernel file system"),
        (["run", "steady", "--out", str(BASELINE_RUN)], "exists and is not a directory"),
        (["sweep", "steady", "--users", "1,200000"], "--users 200000 is above"),
        (["sweep", "steady", "--duration", "25h"], "is above the limit of 24 h"),
        (["sweep", "steady", "--duration", "x"], "cannot read duration"),
        (["sweep", "steady", "--out", "/sys/x.html"], "a kernel file system"),
        (
            ["run", "steady", "--expect-workers", "1001"],
            "--expect-workers 1001 is above the limit of 1,000",
        ),
        (["sweep", "steady", "--pool-sizes", "1,2000"], "--pool-sizes 2000 is above the limit"),
        (
            ["sweep", "steady", "--pool-sizes", STEPS],
            "--pool-sizes names 21 steps, above the limit of 20",
        ),
        (["sweep", "steady", "--users", STEPS], "--users names 21 steps"),
        (["compare", "--scenario", "steady", "--users", "20000"], "--users 20000 is above"),
        (
            ["compare", str(BASELINE_RUN), str(OTHER_RUN), "--out", str(OTHER_RUN)],
            "is one of the run files compared",
        ),
        (
            ["compare", str(BASELINE_RUN), str(OTHER_RUN), "--out", "/proc/self/x.md"],
            "a kernel file system",
        ),
    ],
)
def test_out_of_range_is_one_line_and_exit_2(arguments: list[str], said: str) -> None:
    result = invoke(*arguments)
    assert result.exit_code == 2, result.output
    assert result.exception is None or isinstance(result.exception, SystemExit)
    (line,) = result.stderr.splitlines()
    assert said in line


def test_no_limits_lets_the_bounds_pass_and_the_next_check_speak(tmp_path: Path) -> None:
    # Past the bounds, the next refusal is the output directory's: nothing started.
    result = invoke(
        "run",
        "steady",
        "--users",
        "100000",
        "--duration",
        "25h",
        "--no-limits",
        "--out",
        str(BASELINE_RUN),
    )
    assert result.exit_code == 2, result.output
    assert "exists and is not a directory" in result.stderr


def test_a_user_sees_one_line_and_no_traceback() -> None:
    result = run_poolscope("run", "steady", "--processes", "1000", timeout=60)
    assert result.returncode == 2
    assert result.stderr.splitlines() == [
        f"poolscope: error: --processes 1000 is above the limit of {int(TOO_MANY_PROCESSES) - 1} "
        f"({PROCESSES_PER_CORE} per CPU core here); give --no-limits to go beyond "
        "(docs/limits.md)"
    ]
    assert result.stdout == ""


@pytest.mark.process
@pytest.mark.parametrize(
    ("arguments", "said"),
    [
        (
            ["run", "steady", "--users", "0"],
            "Invalid value for '--users': Input should be greater than or equal to 1 "
            "(see 'poolscope run --help')",
        ),
        (
            ["run", "--bogus\x1b[2J"],
            "No such option: --bogus\\x1b[2J (see 'poolscope run --help')",
        ),
        (["db", "bogus"], "No such command 'bogus'. (see 'poolscope db --help')"),
    ],
)
def test_clicks_own_refusals_are_one_line_too(arguments: list[str], said: str) -> None:
    # Click's checks (a type's range, an unknown option or command) come before
    # poolscope's, and printed a usage box of several lines.
    result = run_poolscope(*arguments, timeout=60)
    assert result.returncode == 2
    assert result.stderr.splitlines() == [f"poolscope: error: {said}"]
    assert result.stdout == ""
