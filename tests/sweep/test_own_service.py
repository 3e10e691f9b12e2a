"""``--serve-cmd``: the command line per step, and a service that reports another pool
size, dies, or never answers ends in one line with nothing left running."""

from __future__ import annotations

import shlex
import sys
from pathlib import Path

import pytest

from poolscope._errors import PoolscopeError
from poolscope.sweep._own_service import serve_command, start_own_service
from tests.support.processes import alive


def test_placeholders_are_filled_without_a_shell() -> None:
    command = serve_command(
        "env 'POOL_SIZE={pool_size}' uvicorn app:app --port {port} --log-level warning",
        port=8123,
        pool_size=4,
    )
    assert command == [
        "env",
        "POOL_SIZE=4",
        "uvicorn",
        "app:app",
        "--port",
        "8123",
        "--log-level",
        "warning",
    ]
    # No shell: a ";" is part of an argument, never the start of a second command.
    assert serve_command("app --port {port} --pool {pool_size}; rm x", port=1, pool_size=2) == [
        "app",
        "--port",
        "1",
        "--pool",
        "2;",
        "rm",
        "x",
    ]


@pytest.mark.parametrize(
    ("template", "missing"),
    [("uvicorn app:app --port 8000 {pool_size}", "{port}"), ("app --port {port}", "{pool_size}")],
)
def test_a_missing_placeholder_is_a_one_line_error(template: str, missing: str) -> None:
    with pytest.raises(PoolscopeError, match=f"needs a \\{missing}"):
        serve_command(template, port=1, pool_size=1)


def test_a_service_that_exits_is_reported_with_its_last_line(tmp_path: Path) -> None:
    template = (
        f"{sys.executable} -c 'print(\"no database\"); raise SystemExit(3)' {{port}} {{pool_size}}"
    )
    with pytest.raises(PoolscopeError, match=r"exited with code 3 .*no database"):
        start_own_service(
            template, 2, log_path=tmp_path / "service.log", reported_pool_size=lambda _host: None
        )


def test_another_pool_size_stops_the_service(tmp_path: Path) -> None:
    pid_file = tmp_path / "pid"
    script = (
        f"import os, time; open({str(pid_file)!r}, 'w').write(str(os.getpid())); time.sleep(60)"
    )
    template = f"{sys.executable} -c {shlex.quote(script)} {{port}} {{pool_size}}"

    def reports_five(_host: str) -> int | None:
        return 5 if pid_file.exists() and pid_file.read_text() else None

    with pytest.raises(PoolscopeError, match="reports pool size 5, not 2"):
        start_own_service(template, 2, log_path=tmp_path / "log", reported_pool_size=reports_five)
    assert not alive(int(pid_file.read_text()))
