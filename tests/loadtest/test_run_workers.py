"""`poolscope run --expect-workers 2`: Locust's master records the run while two
`locust --worker` processes, started separately as on other machines, make the load."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
from pathlib import Path

import pytest

from poolscope.loadtest import load_run
from poolscope.postgres import free_port
from tests.support.example_service import EXAMPLE_DIR, EXAMPLE_LOCUSTFILE

pytestmark = [pytest.mark.slow, pytest.mark.e2e, pytest.mark.process]


def test_two_workers_make_the_load(example_host: str, tmp_path: Path) -> None:
    master_port = free_port()
    poolscope = subprocess.Popen(
        [
            sys.executable,
            "-m",
            "poolscope",
            "run",
            "--locustfile",
            str(EXAMPLE_LOCUSTFILE),
            "--host",
            example_host,
            "--users",
            "4",
            "--duration",
            "5s",
            "--label",
            "workers",
            "--expect-workers",
            "2",
            "--master-port",
            str(master_port),
            "--out",
            str(tmp_path),
        ],
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
    )
    worker = [sys.executable, "-m", "locust", "-f", str(EXAMPLE_LOCUSTFILE), "--worker"]
    worker += ["--master-host", "127.0.0.1", "--master-port", str(master_port)]
    workers = [
        subprocess.Popen(
            worker,
            stdout=subprocess.DEVNULL,
            stderr=subprocess.DEVNULL,
            cwd=EXAMPLE_DIR,
            start_new_session=True,
        )
        for _ in range(2)
    ]
    try:
        stdout, stderr = poolscope.communicate(timeout=150)
        # The master tells its workers to quit when the test ends.
        worker_codes = [worker.wait(timeout=30) for worker in workers]
    finally:
        for worker in workers:
            if worker.poll() is None:
                os.killpg(worker.pid, signal.SIGKILL)
                worker.wait()
    assert poolscope.returncode == 0, stdout + stderr
    assert worker_codes == [0, 0]
    assert "waits for 2 worker(s)" in stdout
    [path] = tmp_path.glob("workers-*.json")
    run = load_run(path)
    assert run.complete, run.incomplete_reason
    assert run.configuration.extra["locust_workers"] == 2
    assert run.locust is not None
    assert run.locust.requests > 0
    assert run.pool is not None
    assert run.pool.max_used == 2
