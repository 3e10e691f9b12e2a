"""SIGTERM with requests in flight: each client gets its 200 or a JSON 503, and no backend
of the service outlives it."""

from __future__ import annotations

import time

import pytest

from tests.support.faults import (
    DRIVERS,
    POOL_ARGUMENTS,
    Outcomes,
    assert_clean_log,
    pool_state,
    request_once,
    service_backends,
    service_pid,
)
from tests.support.service_process import running_service
from tests.support.waiting import wait_until

pytestmark = [pytest.mark.slow, pytest.mark.process, pytest.mark.timeout(120)]


@pytest.mark.parametrize("driver", DRIVERS)
def test_sigterm_answers_every_request_in_flight(database_url: str, driver: str) -> None:
    outcomes = Outcomes()
    with running_service(
        "--database-url", database_url, "--driver", driver, *POOL_ARGUMENTS
    ) as service:
        pid = service_pid(service.base_url)
        # 5 hold the pool's connections, 4 wait for one.
        clients = [request_once(service.base_url, "/hold?seconds=20", outcomes) for _ in range(9)]
        wait_until(lambda: pool_state(service.base_url)["pending"] == 4, timeout=20)
        started = time.monotonic()
        assert service.stop() == 0
        stopped_after = time.monotonic() - started
        for client in clients:
            client.join(timeout=30)
    assert service_backends(database_url, pid) == 0
    outcomes.assert_only_200_or_json_503()
    assert outcomes.answers == [(503, "shutting_down")] * 9
    assert stopped_after < 15  # the 20 s queries were ended, not waited for
    assert_clean_log(service.log())


@pytest.mark.parametrize("driver", DRIVERS)
def test_sigterm_lets_a_request_finish_within_the_grace(database_url: str, driver: str) -> None:
    outcomes = Outcomes()
    with running_service(
        "--database-url", database_url, "--driver", driver, *POOL_ARGUMENTS
    ) as service:
        pid = service_pid(service.base_url)
        client = request_once(service.base_url, "/hold?seconds=1.5", outcomes)
        wait_until(lambda: pool_state(service.base_url)["used"] == 1, timeout=20)
        assert service.stop() == 0
        client.join(timeout=30)
    assert outcomes.answers == [(200, None)]
    assert service_backends(database_url, pid) == 0
    assert_clean_log(service.log())
