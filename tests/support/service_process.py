"""Start `poolscope serve` as a real subprocess on a free 127.0.0.1 port, for tests."""

from __future__ import annotations

import os
import re
import signal
import subprocess
import sys
import tempfile
import time
from collections.abc import Iterator, Mapping
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path

import httpx

LISTENING = re.compile(r"listening on (http://127\.0\.0\.1:\d+)")
START_TIMEOUT_SECONDS = 90


@dataclass
class ServiceProcess:
    base_url: str
    process: subprocess.Popen[bytes]
    log_path: Path
    final_log: str | None = None

    def log(self) -> str:
        """Everything it printed so far (all of it, once stopped)."""
        if self.final_log is not None:
            return self.final_log
        return self.log_path.read_text(errors="replace")

    def stop(self) -> int:
        """SIGTERM, as a supervisor would; return the exit code."""
        if self.process.poll() is None:
            self.process.send_signal(signal.SIGTERM)
        try:
            return self.process.wait(timeout=30)
        except subprocess.TimeoutExpired:
            self.process.kill()
            self.process.wait()
            raise AssertionError(f"the service ignored SIGTERM:\n{self.log()}") from None


def serve_command(*arguments: str) -> list[str]:
    return [sys.executable, "-m", "poolscope", "serve", "--port", "0", *arguments]


@contextmanager
def running_service(
    *arguments: str, env: Mapping[str, str] | None = None
) -> Iterator[ServiceProcess]:
    """``poolscope serve --port 0 ARGUMENTS`` until it answers /health; stopped afterwards."""
    log_path = Path(tempfile.mkstemp(prefix="poolscope-serve-", suffix=".log")[1])
    environment = {**os.environ, **(env or {})}
    with log_path.open("wb") as log:
        process = subprocess.Popen(
            serve_command(*arguments), stdout=log, stderr=subprocess.STDOUT, env=environment
        )
    service = ServiceProcess(base_url="", process=process, log_path=log_path)
    try:
        service.base_url = _wait_until_healthy(service)
        yield service
    finally:
        service.stop()
        service.final_log = service.log()
        log_path.unlink(missing_ok=True)


def _wait_until_healthy(service: ServiceProcess) -> str:
    deadline = time.monotonic() + START_TIMEOUT_SECONDS
    base_url = None
    while time.monotonic() < deadline:
        if service.process.poll() is not None:
            raise AssertionError(f"poolscope serve exited early:\n{service.log()}")
        if base_url is None:
            match = LISTENING.search(service.log())
            base_url = match.group(1) if match else None
        if base_url is not None:
            try:
                if httpx.get(f"{base_url}/health", timeout=2).status_code == 200:
                    return base_url
            except httpx.TransportError:
                pass
        time.sleep(0.1)
    raise AssertionError(f"poolscope serve did not become healthy:\n{service.log()}")
