"""Crafted run files: a device, a FIFO, a file past the size bound, absurd numbers, time
running backwards, histograms that cannot be one. Each is one line and exit 2, read in
bounded time and memory; a valid file's names come through whole, brackets included."""

from __future__ import annotations

import json
import os
import resource
import subprocess
import sys
from pathlib import Path
from typing import Any

import pytest
from typer.testing import CliRunner

from poolscope.cli._app import app
from poolscope.compare import FailIfError, parse_condition
from poolscope.readings import MAX_RUN_FILE_BYTES
from tests.support.hostile import BASELINE_RUN, ENDPOINTS, MARKUP, OTHER_RUN, write_pair

pytestmark = pytest.mark.timeout(30)

MEMORY_LIMIT = 1024 * 1024 * 1024  # address space: the interpreter and its libraries fit


def compare(*arguments: str) -> Any:
    return CliRunner().invoke(app, ["compare", *arguments])


def damaged(tmp_path: Path, change: Any) -> Path:
    data = json.loads(OTHER_RUN.read_text())
    change(data)
    path = tmp_path / "damaged.json"
    path.write_text(json.dumps(data))
    return path


def assert_one_line_refusal(result: Any, said: str) -> None:
    assert result.exit_code == 2, result.output
    assert result.exception is None or isinstance(result.exception, SystemExit)
    (line,) = result.stderr.splitlines()
    assert line.startswith("poolscope: error: ")
    assert said in line


def _limit_memory() -> None:
    # Should a read ever go unbounded again, it fails here, not on the shared machine.
    resource.setrlimit(resource.RLIMIT_AS, (MEMORY_LIMIT, MEMORY_LIMIT))


@pytest.mark.process
@pytest.mark.parametrize("case", ["device", "fifo", "too-large"])
def test_a_file_that_is_no_run_file_is_refused_unread(tmp_path: Path, case: str) -> None:
    path = tmp_path / f"{case}.json"
    if case == "device":
        path.symlink_to("/dev/zero")
    elif case == "fifo":
        os.mkfifo(path)  # no writer: opening it must not wait for one
    else:
        with path.open("wb") as file:
            file.truncate(MAX_RUN_FILE_BYTES + 1)  # sparse: nothing to read
    result = subprocess.run(
        [sys.executable, "-m", "poolscope", "compare", str(BASELINE_RUN), str(path)],
        capture_output=True,
        text=True,
        timeout=20,
        check=False,
        preexec_fn=_limit_memory,
    )
    assert result.returncode == 2, result.stderr
    (line,) = result.stderr.splitlines()
    said = "larger than 64 MiB" if case == "too-large" else "not a regular file"
    assert line == f"poolscope: error: {path}: {said}" + (
        ", the most a run file is read to (docs/limits.md)"
        if case == "too-large"
        else " (a FIFO, device or socket); run files are read from regular files only"
    )


@pytest.mark.parametrize(
    ("change", "said"),
    [
        (lambda d: d["locust"].update(requests=10**400), "a 401-digit number"),
        (lambda d: d.update(finished_at="2000-01-01T00:00:00Z"), "finished_at is before"),
        (
            lambda d: d["pool"]["wait_histogram"].update(
                upper_bounds=[0.2, 0.1, "Infinity"], counts=[1, 1, 1]
            ),
            "must increase",
        ),
        (lambda d: d["pool"]["wait_histogram"].update(counts=[1]), "bounds but 1 counts"),
        (lambda d: d.update(variant="x" * 200_000, started_at="soon"), "started_at"),
    ],
    ids=["huge-int", "time-backwards", "bounds-decrease", "counts-mismatch", "long-error"],
)
def test_a_damaged_run_file_is_one_bounded_line(tmp_path: Path, change: Any, said: str) -> None:
    result = compare(str(BASELINE_RUN), str(damaged(tmp_path, change)))
    assert_one_line_refusal(result, said)
    assert len(result.stderr) < 400


def test_endpoint_names_in_brackets_are_rows_and_fail_if_names(tmp_path: Path) -> None:
    first, second = write_pair(tmp_path)
    nested = f"p95[POST {ENDPOINTS[0]}]>0ms"
    quoted = f"p95['POST {ENDPOINTS[1]}']>0ms"
    without_method = f"p95[{ENDPOINTS[0]}]>0ms"
    arguments = [str(first), str(second), "--fail-if", nested, "--fail-if", quoted]
    result = compare(*arguments, "--fail-if", without_method)
    assert result.exit_code == 1, result.output
    for name in ENDPOINTS:
        assert f"latency p95 POST {name}" in result.stdout  # a plain console: no markup
        assert f"p95[POST {name}] =" in result.stderr
    assert len(result.stderr.splitlines()) == 3


@pytest.mark.parametrize(
    ("expression", "key"),
    [
        ("p95[POST /a [create]]>1", "p95[POST /a [create]]"),
        ("p95[GET /x [[y]] z]>1", "p95[GET /x [[y]] z]"),
        ('p95["GET /a]b"] > 1', "p95[GET /a]b]"),
        ("p95[ 'GET /a[b' ]>1 and rps<1", "p95[GET /a[b]"),
    ],
)
def test_fail_if_reads_bracketed_and_quoted_names(expression: str, key: str) -> None:
    [[clause, *_]] = parse_condition(expression).groups
    assert clause.key == key


@pytest.mark.parametrize("expression", ["p95[GET /a]b]>1", "p95[GET /a [b>1", "p95['GET /a>1"])
def test_fail_if_says_how_to_name_unpaired_brackets(expression: str) -> None:
    with pytest.raises(FailIfError, match=r"pair up|quoted|cannot read|expected"):
        parse_condition(expression)


def test_the_html_report_bounds_each_name(tmp_path: Path) -> None:
    data = json.loads(OTHER_RUN.read_text())
    data["variant"] = f"{MARKUP}<script>" + "y" * 1_000_000
    path = tmp_path / "long.json"
    path.write_text(json.dumps(data))
    result = compare(str(BASELINE_RUN), str(path), "--format", "html")
    assert result.exit_code == 0, result.output
    assert len(result.stdout) < 100_000
    assert "<script>" not in result.stdout
