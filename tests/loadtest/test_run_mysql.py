"""`poolscope run pool-saturation --database-url mysql+DRIVER://...` end to end on a real
MariaDB: the URL's driver is taken, the check passes, the figures match the 1.0 s hold."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import pymysql
import pytest
from sqlalchemy.engine import make_url

from poolscope.loadtest import load_run
from poolscope.loadtest._environment import max_connections

pytestmark = pytest.mark.slow

HOLD = 1.0  # seconds pool-saturation holds each connection (SELECT SLEEP(1) here)


def within_10_percent(figure: float | None, truth: float) -> bool:
    return figure is not None and abs(figure - truth) <= 0.10 * truth


@pytest.mark.e2e
@pytest.mark.process
def test_pool_saturation_on_mysql_passes_its_check(
    mysql_url: str, tmp_path: Path, mysql_driver: str
) -> None:
    url = make_url(mysql_url).set(drivername=f"mysql+{mysql_driver}")
    result, path = play(url.render_as_string(hide_password=False), tmp_path / "first")
    if server_slept_longer(path):
        # The figures are held to the 1.0 s the scenario asks the server to sleep. A fresh
        # MariaDB has been seen taking 2.7 s over a first wave of SLEEP(1)s (poolscope's
        # own statement time says so): that run measured the server, not the hold, and is
        # played once more.
        result, path = play(url.render_as_string(hide_password=False), tmp_path / "second")
    assert result.returncode == 0, result.stdout + result.stderr
    run = load_run(path)
    assert run.complete, run.incomplete_reason
    assert run.check is not None
    assert run.check.passed, "\n".join([run.check.verdict, *run.check.details, result.stdout])
    assert run.configuration.driver == mysql_driver
    assert run.configuration.database_url.startswith(f"mysql+{mysql_driver}://poolscope:***@")
    assert run.pool is not None
    wait, use = run.pool.wait, run.pool.use
    assert wait.max_exact
    assert use.max_exact
    stored = {"wait max": wait.max, "wait p95": wait.p95, "use p50": use.p50, "use max": use.max}
    assert all(within_10_percent(figure, HOLD) for figure in stored.values()), stored
    password = url.password
    assert password
    assert password not in result.stdout + result.stderr
    assert password not in path.read_text()


def test_max_connections_is_read_from_mysql(mysql_url: str) -> None:
    url = make_url(mysql_url)
    connection = pymysql.connect(
        host=url.host, port=url.port, user=url.username, password=url.password
    )
    try:
        with connection.cursor() as cursor:
            cursor.execute("SHOW VARIABLES LIKE 'max_connections'")
            row = cursor.fetchone()
    finally:
        connection.close()
    assert row is not None
    assert max_connections(mysql_url) == int(row[1])


def play(database_url: str, out: Path) -> tuple[subprocess.CompletedProcess[str], Path]:
    result = subprocess.run(
        [
            *(sys.executable, "-m", "poolscope", "run", "pool-saturation", "--duration", "8s"),
            *("--out", str(out), "--database-url", database_url),
        ],
        capture_output=True,
        text=True,
        timeout=150,
        check=False,
    )
    assert result.returncode in (0, 1), result.stdout + result.stderr
    [path] = out.glob("*.json")
    return result, path


def server_slept_longer(path: Path) -> bool:
    """Whether the server's SLEEP(1)s took over 10 % longer on average, by the run file's
    time in statements."""
    pool = json.loads(path.read_text())["pool"]
    statements = sum(route["statements"] for route in pool["routes"])
    seconds = sum(route["statement_seconds"] for route in pool["routes"])
    return statements > 0 and seconds / statements > 1.10 * HOLD
