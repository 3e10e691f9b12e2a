"""The example of one's own service (examples/orders) under uvicorn, for tests."""

from __future__ import annotations

import os
import re
import subprocess
import sys
import tempfile
import time
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

import httpx

from poolscope._urls import url_for_driver

EXAMPLE_DIR = Path(__file__).resolve().parents[2] / "examples" / "orders"
EXAMPLE_LOCUSTFILE = EXAMPLE_DIR / "locustfile.py"
RUNNING = re.compile(r"Uvicorn running on (http://127\.0\.0\.1:\d+)")
START_TIMEOUT_SECONDS = 60


@contextmanager
def running_example(
    database_url: str, *, pool_size: int, app_dir: Path = EXAMPLE_DIR
) -> Iterator[str]:
    """The example orders service (or the ``app:create_app`` in ``app_dir``) with a pool
    of ``pool_size``; yields its base URL."""
    log_path = Path(tempfile.mkstemp(prefix="poolscope-example-", suffix=".log")[1])
    command = [sys.executable, "-m", "uvicorn", "app:create_app", "--factory"]
    command += ["--app-dir", str(app_dir), "--host", "127.0.0.1", "--port", "0"]
    env = {
        **os.environ,
        "DATABASE_URL": url_for_driver(database_url, "asyncpg").render_as_string(
            hide_password=False
        ),
        "POOL_SIZE": str(pool_size),
    }
    with log_path.open("wb") as log:
        process = subprocess.Popen(command, stdout=log, stderr=subprocess.STDOUT, env=env)
    try:
        yield _wait_until_serving(process, log_path)
    finally:
        process.terminate()
        try:
            process.wait(timeout=30)
        except subprocess.TimeoutExpired:
            process.kill()
            process.wait()
        log_path.unlink(missing_ok=True)


def _wait_until_serving(process: subprocess.Popen[bytes], log_path: Path) -> str:
    deadline = time.monotonic() + START_TIMEOUT_SECONDS
    while time.monotonic() < deadline:
        log = log_path.read_text(errors="replace")
        if process.poll() is not None:
            raise AssertionError(f"the example exited early:\n{log}")
        found = RUNNING.search(log)
        if found:
            try:
                if httpx.get(f"{found.group(1)}/pool", timeout=2).status_code == 200:
                    return found.group(1)
            except httpx.TransportError:
                pass
        time.sleep(0.1)
    raise AssertionError(f"the example did not start:\n{log_path.read_text(errors='replace')}")
