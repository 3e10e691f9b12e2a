"""Faults on MySQL, as on PostgreSQL: the service's connections KILLed under load, the
server stopped for seconds then started again, a wrong password and no server at all.
Every answer is a 200 or a JSON 503, the service recovers by itself, nothing stays checked
out, and the password is never shown."""

from __future__ import annotations

import shutil
import subprocess
import tempfile
import threading
import time
from collections.abc import Iterator
from pathlib import Path

import httpx
import pymysql
import pytest
from sqlalchemy.engine import make_url

from tests.support.faults import (
    POOL_ARGUMENTS,
    Outcomes,
    assert_clean_log,
    keep_requesting,
    pool_state,
    through_an_outage,
)
from tests.support.mariadb import PASSWORD, MariaDB
from tests.support.service_process import running_service, serve_command
from tests.support.waiting import wait_until

pytestmark = [pytest.mark.slow, pytest.mark.process, pytest.mark.timeout(150)]

OUTAGE_SECONDS = 5


def kill_service_connections(mysql_url: str) -> int:
    """``KILL`` every other connection of the URL's user: the service's, the only other
    client of the test server while a fault test runs."""
    url = make_url(mysql_url)
    admin = pymysql.connect(host=url.host, port=url.port, user=url.username, password=url.password)
    try:
        with admin.cursor() as cursor:
            cursor.execute(
                "SELECT ID FROM information_schema.PROCESSLIST"
                " WHERE USER = %s AND ID <> CONNECTION_ID() AND COMMAND <> 'Killed'",
                (url.username,),
            )
            killed = 0
            for (connection_id,) in cursor.fetchall():
                try:
                    cursor.execute(f"KILL {int(connection_id)}")
                    killed += 1
                except pymysql.err.OperationalError:
                    pass  # it ended on its own meanwhile
            return killed
    finally:
        admin.close()


def assert_no_password(service_log: str, outcomes: Outcomes) -> None:
    assert PASSWORD not in service_log
    assert "mysql-s3cret" not in service_log
    assert not any(error and "s3cret" in error for _, error in outcomes.answers)


def test_killed_connections_never_cost_an_answer(mysql_url: str, mysql_driver: str) -> None:
    outcomes = Outcomes()
    done = threading.Event()
    with running_service(
        "--database-url", mysql_url, "--driver", mysql_driver, *POOL_ARGUMENTS
    ) as service:
        clients = [
            keep_requesting(service.base_url, path, outcomes, done)
            for path in ["/items?limit=500"] * 6 + ["/hold?seconds=0.2"] * 4
        ]
        killed = 0
        for _ in range(12):
            time.sleep(0.25)
            killed += kill_service_connections(mysql_url)
        done.set()
        for client in clients:
            client.join(timeout=40)
        wait_until(lambda: pool_state(service.base_url)["used"] == 0, timeout=10)
        assert pool_state(service.base_url)["pending"] == 0
        assert httpx.get(f"{service.base_url}/items", timeout=10).status_code == 200
    assert killed >= 12
    log = service.log()
    assert_clean_log(log)
    outcomes.assert_only_200_or_json_503()
    assert outcomes.count(200) > 0
    assert outcomes.count(503) > 0, "no KILL reached a request: the test saw no fault"
    assert_no_password(log, outcomes)


@pytest.fixture
def own_server() -> Iterator[MariaDB]:
    """A server of this test's own: the session's one must not stop under other tests."""
    root = Path(tempfile.mkdtemp(prefix="poolscope-mariadb-restart-"))
    server = MariaDB(root)
    try:
        yield server
    finally:
        server.stop()
        shutil.rmtree(root, ignore_errors=True)


def test_database_stopped_for_seconds(own_server: MariaDB, mysql_driver: str) -> None:
    outcomes, log = through_an_outage(own_server, mysql_driver, OUTAGE_SECONDS)
    outcomes.assert_only_200_or_json_503()
    assert {error for status, error in outcomes.answers if status == 503} == {"database_error"}
    assert outcomes.count(503) > 0
    assert_clean_log(log)
    assert_no_password(log, outcomes)


def test_a_wrong_password_or_no_server_is_one_line_without_the_password(
    mysql_url: str, mysql_driver: str
) -> None:
    wrong = make_url(mysql_url).set(drivername=f"mysql+{mysql_driver}", password="Wrong-Secret-42")
    gone = wrong.set(password="Gone-Secret-43", port=1)
    for url, reason in [(wrong, "Access denied"), (gone, "Can't connect")]:
        result = subprocess.run(
            serve_command("--database-url", url.render_as_string(hide_password=False)),
            capture_output=True,
            text=True,
            timeout=60,
        )
        assert result.returncode == 1
        [line] = result.stderr.strip().splitlines()
        assert line.startswith(
            f"poolscope: error: cannot use the database at mysql+{mysql_driver}://"
        )
        assert reason in line
        assert "Secret-4" not in result.stdout + result.stderr


def running_sleeps(mysql_url: str) -> int:
    url = make_url(mysql_url)
    admin = pymysql.connect(host=url.host, port=url.port, user=url.username, password=url.password)
    try:
        with admin.cursor() as cursor:
            cursor.execute(
                "SELECT count(*) FROM information_schema.PROCESSLIST"
                " WHERE INFO LIKE 'SELECT SLEEP%%' AND ID <> CONNECTION_ID()"
            )
            row = cursor.fetchone()
    finally:
        admin.close()
    return int(row[0]) if row else 0


def test_a_client_that_leaves_leaves_no_query_running(mysql_url: str, mysql_driver: str) -> None:
    with running_service(
        "--database-url", mysql_url, "--driver", mysql_driver, *POOL_ARGUMENTS
    ) as service:
        with pytest.raises(httpx.ReadTimeout):
            httpx.get(f"{service.base_url}/hold?seconds=20", timeout=1)
        # Ended within seconds, not at the end of its 20 s hold.
        wait_until(lambda: running_sleeps(mysql_url) == 0, timeout=5)
        wait_until(lambda: pool_state(service.base_url)["used"] == 0, timeout=5)
        assert httpx.get(f"{service.base_url}/items", timeout=10).status_code == 200
    assert_clean_log(service.log())
