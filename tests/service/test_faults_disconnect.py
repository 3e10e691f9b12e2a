"""Clients that leave in the middle of their requests: their work stops with them."""

from __future__ import annotations

import time

import pytest

from poolscope import metrics as names
from tests.support.faults import (
    DRIVERS,
    POOL_ARGUMENTS,
    Outcomes,
    assert_clean_log,
    metric,
    pool_state,
    request_once,
    service_backends,
    service_pid,
)
from tests.support.service_process import running_service
from tests.support.waiting import wait_until

pytestmark = [pytest.mark.slow, pytest.mark.process, pytest.mark.timeout(120)]

CLIENTS = 20
# Leaving (1 s) before the query ends (5 s) and before a waiting request times out (10 s).
CLIENT_TIMEOUT_SECONDS = 1.0
# The bound: 1 s after the last client leaves, plus the time a cancel takes.
# Margin for a shared 2-core machine.
RELEASED_WITHIN_SECONDS = 3.0


@pytest.mark.parametrize("driver", DRIVERS)
def test_clients_that_leave_hold_nothing(database_url: str, driver: str) -> None:
    outcomes = Outcomes()
    with running_service(
        "--database-url", database_url, "--driver", driver, *POOL_ARGUMENTS, "--pool-timeout", "10"
    ) as service:
        pid = service_pid(service.base_url)
        clients = [
            request_once(service.base_url, "/hold?seconds=5", outcomes, CLIENT_TIMEOUT_SECONDS)
            for _ in range(CLIENTS)
        ]
        for client in clients:
            client.join(timeout=30)
        # httpx closed each connection when its read timed out: every client has left.
        released_after = wait_until(
            lambda: (state := pool_state(service.base_url))["used"] == 0 and state["pending"] == 0,
            timeout=20,
        )
        # The queries of the connections a cancelled request dropped end too.
        wait_until(lambda: service_backends(database_url, pid, active_only=True) == 0, timeout=5)
        time.sleep(0.5)
        timeouts = metric(service.base_url, names.CONNECTION_TIMEOUTS + "_total")
        # The pool serves again at once.
        request_once(service.base_url, "/items", outcomes).join(timeout=30)
    assert len(outcomes.dropped) == CLIENTS  # each client gave up by itself
    assert outcomes.answers == [(200, None)]
    print(f"{driver}: pool released {released_after:.2f} s after the last client left")
    assert released_after < RELEASED_WITHIN_SECONDS
    # Nobody waited in vain: no phantom pool timeouts, counted or logged.
    assert timeouts == 0
    assert "exhausted" not in service.log()
    assert_clean_log(service.log())
