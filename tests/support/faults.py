"""Clients and probes for the fault tests: what each client got, the pool, the backends."""

from __future__ import annotations

import threading
import time
from dataclasses import dataclass, field
from typing import Protocol

import httpx
from prometheus_client.parser import text_string_to_metric_families
from sqlalchemy import create_engine, text
from sqlalchemy.pool import NullPool

from poolscope._urls import url_for_driver
from tests.support.service_process import running_service
from tests.support.waiting import wait_until

DRIVERS = ["psycopg2", "asyncpg"]
# Pool 5 and at most 20 clients, as the fault runs.
POOL_ARGUMENTS = ("--pool-size", "5", "--max-overflow", "0")


@dataclass
class Outcomes:
    """Every answer clients got (status, JSON error name) and every request that got none."""

    answers: list[tuple[int, str | None]] = field(default_factory=list)
    dropped: list[str] = field(default_factory=list)
    lock: threading.Lock = field(default_factory=threading.Lock)

    def record(self, response: httpx.Response) -> None:
        error: str | None = None
        if response.status_code != 200:
            try:
                error = response.json().get("error")
            except ValueError:
                error = f"not JSON: {response.text[:80]!r}"
        with self.lock:
            self.answers.append((response.status_code, error))

    def drop(self, error: Exception) -> None:
        with self.lock:
            self.dropped.append(repr(error))

    def statuses(self) -> set[int]:
        return {status for status, _ in self.answers}

    def count(self, status: int) -> int:
        return sum(1 for answer, _ in self.answers if answer == status)

    def assert_only_200_or_json_503(self) -> None:
        assert not self.dropped, f"{len(self.dropped)} requests got no answer: {self.dropped[:3]}"
        wrong = [answer for answer in self.answers if answer[0] not in (200, 503)]
        assert not wrong, f"answers other than 200/503: {wrong[:5]}"
        unnamed = [answer for answer in self.answers if answer[0] == 503 and not answer[1]]
        assert not unnamed, f"503s without a JSON error: {unnamed[:5]}"
        assert not any(str(error).startswith("not JSON") for _, error in self.answers)


def keep_requesting(
    base_url: str, path: str, outcomes: Outcomes, until: threading.Event, timeout: float = 30
) -> threading.Thread:
    """A client sending ``path`` again and again until ``until`` is set."""

    def loop() -> None:
        with httpx.Client(base_url=base_url, timeout=timeout) as client:
            while not until.is_set():
                try:
                    outcomes.record(client.get(path))
                except httpx.TransportError as error:
                    outcomes.drop(error)

    thread = threading.Thread(target=loop, daemon=True)
    thread.start()
    return thread


def request_once(
    base_url: str, path: str, outcomes: Outcomes, timeout: float = 60
) -> threading.Thread:
    def once() -> None:
        try:
            outcomes.record(httpx.get(f"{base_url}{path}", timeout=timeout))
        except httpx.TransportError as error:
            outcomes.drop(error)

    thread = threading.Thread(target=once, daemon=True)
    thread.start()
    return thread


def pool_state(base_url: str) -> dict[str, int]:
    state: dict[str, int] = httpx.get(f"{base_url}/pool", timeout=10).json()["state"]
    return state


def metric(base_url: str, name: str) -> float:
    """The sum of a series over all its labels, as /metrics shows it now."""
    exposition = httpx.get(f"{base_url}/metrics", timeout=10).text
    return sum(
        sample.value
        for family in text_string_to_metric_families(exposition)
        for sample in family.samples
        if sample.name == name
    )


def service_backends(database_url: str, pid: int, *, active_only: bool = False) -> int:
    """Backends the service process ``pid`` has in ``pg_stat_activity`` right now."""
    condition = " AND state = 'active'" if active_only else ""
    return _count_backends(database_url, pid, "count(*)", condition)


def terminate_service_backends(database_url: str, pid: int) -> int:
    """``pg_terminate_backend`` on every backend of the service process ``pid``."""
    return _count_backends(
        database_url, pid, "count(*) FILTER (WHERE pg_terminate_backend(pid))", ""
    )


def _count_backends(database_url: str, pid: int, count: str, condition: str) -> int:
    # The service names its connections "poolscope POOL PID".
    engine = create_engine(url_for_driver(database_url, "psycopg2"), poolclass=NullPool)
    try:
        with engine.connect() as connection:
            found = connection.scalar(
                text(
                    f"SELECT {count} FROM pg_stat_activity"
                    f" WHERE application_name LIKE :name{condition}"
                ),
                {"name": f"poolscope % {pid}"},
            )
    finally:
        engine.dispose()
    return int(found or 0)


def service_pid(base_url: str) -> int:
    pid: int = httpx.get(f"{base_url}/health", timeout=10).json()["pid"]
    return pid


def assert_clean_log(log: str) -> None:
    """No traceback and no ERROR line: every fault was answered, none crashed a request."""
    assert "Traceback" not in log, log[-3000:]
    assert "ERROR" not in log, log[-3000:]


class RestartableServer(Protocol):
    """A database server of a test's own: the embedded PostgreSQL, a MariaDB."""

    def start(self) -> str: ...

    def stop(self) -> bool: ...


def through_an_outage(
    server: RestartableServer, driver: str, outage_seconds: float
) -> tuple[Outcomes, str]:
    """Eight clients keep asking a ``poolscope serve`` on ``server`` for /items while the
    server is stopped for ``outage_seconds`` and started again. Returns what the clients
    got and the service's log, once the service answers again and holds no connection."""
    url = server.start()
    outcomes = Outcomes()
    done = threading.Event()
    with running_service(
        "--database-url", url, "--driver", driver, *POOL_ARGUMENTS, "--pool-timeout", "5"
    ) as service:
        clients = [keep_requesting(service.base_url, "/items", outcomes, done) for _ in range(8)]
        time.sleep(1)
        assert server.stop()
        time.sleep(outage_seconds)
        # Closed connections left TIME_WAIT on the old port; the server gets it back.
        assert server.start() == url
        wait_until(
            lambda: httpx.get(f"{service.base_url}/items", timeout=10).status_code == 200,
            timeout=15,
        )
        done.set()
        for client in clients:
            client.join(timeout=30)
        wait_until(lambda: pool_state(service.base_url)["used"] == 0, timeout=10)
    return outcomes, service.log()
