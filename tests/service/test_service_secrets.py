"""The database password never reaches a response, a log line or a metric of the service."""

from __future__ import annotations

from collections.abc import Iterator

import httpx
import pytest
from sqlalchemy import Engine, make_url, text

from poolscope._urls import DRIVERS
from tests.support.service_process import running_service

PASSWORD = "Quokka-7781-distinctive"
ROLE = "poolscope_secret_tester"
DATABASE = "poolscope_secret_db"


@pytest.fixture
def distinctive_url(database_url: str, admin_engine: Engine) -> Iterator[str]:
    """A role whose password is ``PASSWORD``, owning a database of its own."""
    with admin_engine.connect().execution_options(isolation_level="AUTOCOMMIT") as connection:
        connection.execute(text(f"DROP DATABASE IF EXISTS {DATABASE} WITH (FORCE)"))
        connection.execute(text(f"DROP ROLE IF EXISTS {ROLE}"))
        connection.execute(text(f"CREATE ROLE {ROLE} LOGIN PASSWORD '{PASSWORD}'"))
        connection.execute(text(f"CREATE DATABASE {DATABASE} OWNER {ROLE}"))
    url = make_url(database_url).set(username=ROLE, password=PASSWORD, database=DATABASE)
    try:
        yield url.render_as_string(hide_password=False)
    finally:
        with admin_engine.connect().execution_options(isolation_level="AUTOCOMMIT") as connection:
            connection.execute(text(f"DROP DATABASE IF EXISTS {DATABASE} WITH (FORCE)"))
            connection.execute(text(f"DROP ROLE IF EXISTS {ROLE}"))


@pytest.mark.slow
@pytest.mark.parametrize("driver", DRIVERS)
def test_password_never_leaves_the_service(distinctive_url: str, driver: str) -> None:
    seen: list[str] = []
    arguments = ("--driver", driver, "--pool-size", "2", "--pool-timeout", "0.5",
                 "--leak-bound", "5", "--access-log", "--log-level", "debug")  # fmt: skip
    requests = [
        ("GET", "/health"),
        ("GET", "/pool"),
        ("GET", "/items"),
        ("GET", "/hold?seconds=0.1"),
        ("GET", "/hold?seconds=-1"),
        ("GET", "/antipatterns/engine-per-request/items"),
        ("GET", "/antipatterns/leak"),
        ("GET", "/antipatterns/leak"),
        ("GET", "/items"),  # the pool is exhausted: 503
        ("POST", "/antipatterns/leak/release"),
        ("GET", "/openapi.json"),
        ("GET", "/metrics"),
    ]
    statuses = []
    with (
        running_service(*arguments, env={"POOLSCOPE_DATABASE_URL": distinctive_url}) as service,
        httpx.Client(base_url=service.base_url, timeout=30) as client,
    ):
        for method, path in requests:
            response = client.request(method, path)
            statuses.append(response.status_code)
            seen.append(f"{response.headers}\n{response.text}")
        pool = client.get("/pool").json()
    seen.append(service.log())

    assert statuses[8] == 503  # the error path was taken, not only the happy one
    # The service really used the distinctive role, and shows it masked.
    assert f"{ROLE}:***@" in pool["database_url"]
    assert "pool_exhausted" in seen[8]
    for text_seen in seen:
        assert PASSWORD not in text_seen
