"""PostgreSQL stopped for seconds, then started again: answers stay 200 or JSON 503, the
server keeps its port, and the service serves again without a restart of its own."""

from __future__ import annotations

import shutil
import tempfile
from collections.abc import Iterator
from pathlib import Path

import pytest

from poolscope.postgres import EmbeddedPostgres
from tests.support.faults import (
    DRIVERS,
    assert_clean_log,
    through_an_outage,
)

pytestmark = [pytest.mark.slow, pytest.mark.process, pytest.mark.timeout(180)]

OUTAGE_SECONDS = 3


@pytest.fixture
def own_server() -> Iterator[EmbeddedPostgres]:
    """A server of this test's own: the session's one must not stop under other tests.
    Under /tmp itself: the server's system user (when tests run as root) cannot enter
    pytest's 0700 base directory."""
    root = Path(tempfile.mkdtemp(prefix="poolscope-restart-"))
    server = EmbeddedPostgres(root / "pg")
    try:
        yield server
    finally:
        server.stop()
        shutil.rmtree(root, ignore_errors=True)


@pytest.mark.parametrize("driver", DRIVERS)
def test_database_restart(own_server: EmbeddedPostgres, driver: str) -> None:
    outcomes, log = through_an_outage(own_server, driver, OUTAGE_SECONDS)
    outcomes.assert_only_200_or_json_503()
    errors = {error for status, error in outcomes.answers if status == 503}
    assert errors == {"database_error"}
    assert outcomes.count(503) > 0
    assert_clean_log(log)
    # Hundreds of 503s, a few lines: the first at once, then one per interval with a count.
    warnings = [line for line in log.splitlines() if line.startswith("WARNING")]
    assert outcomes.count(503) > 3 * len(warnings), warnings
    assert any("more 503 answers" in line for line in warnings), warnings
