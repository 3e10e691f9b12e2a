"""Backends terminated under load: every client still gets a 200 or a JSON 503."""

from __future__ import annotations

import threading
import time

import pytest

from tests.support.faults import (
    DRIVERS,
    POOL_ARGUMENTS,
    Outcomes,
    assert_clean_log,
    keep_requesting,
    pool_state,
    service_pid,
    terminate_service_backends,
)
from tests.support.service_process import running_service
from tests.support.waiting import wait_until

pytestmark = [pytest.mark.slow, pytest.mark.process, pytest.mark.timeout(120)]


@pytest.mark.parametrize("driver", DRIVERS)
def test_terminated_backends_never_cost_an_answer(database_url: str, driver: str) -> None:
    outcomes = Outcomes()
    done = threading.Event()
    with running_service(
        "--database-url", database_url, "--driver", driver, *POOL_ARGUMENTS
    ) as service:
        pid = service_pid(service.base_url)
        # Big answers (the whole table) and held connections, so that kills land both
        # mid-query and between the query and the session's close.
        clients = [
            keep_requesting(service.base_url, path, outcomes, done)
            for path in ["/items?limit=500"] * 6 + ["/hold?seconds=0.2"] * 4
        ]
        terminated = 0
        for _ in range(12):
            time.sleep(0.25)
            terminated += terminate_service_backends(database_url, pid)
        done.set()
        for client in clients:
            client.join(timeout=40)
        # After the faults, the service serves again and holds nothing.
        wait_until(lambda: pool_state(service.base_url)["used"] == 0, timeout=10)
        assert pool_state(service.base_url)["pending"] == 0
    assert terminated >= 12
    # The log first: a crashed request shows there why a client got no answer.
    assert_clean_log(service.log())
    outcomes.assert_only_200_or_json_503()
    assert outcomes.count(200) > 0
    assert outcomes.count(503) > 0, "no termination reached a request: the test saw no fault"
