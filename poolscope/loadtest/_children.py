"""The processes ``poolscope run`` starts for each variant: the sample service and Locust."""

from __future__ import annotations

import contextlib
import os
import re
import sys
import time
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path

import httpx

from poolscope._errors import PoolscopeError
from poolscope.loadtest._catalog import serve_flags
from poolscope.loadtest._locust_result import LocustFiles
from poolscope.loadtest._processes import ManagedProcess
from poolscope.postgres import DATABASE_URL_ENV

__all__ = ["MasterOptions", "locust_command", "start_service", "wait_until_ready"]

SERVICE_READY_SECONDS = 60.0
_LISTENING = re.compile(r"listening on (http://127\.0\.0\.1:\d+)")


def start_service(
    settings: Mapping[str, int | float | str | None],
    *,
    driver: str,
    workers: int,
    database_url: str | None,
    workdir: Path,
) -> ManagedProcess:
    """``poolscope serve`` with the scenario's settings, on a port it picks itself."""
    # Port 0: the service binds a free port itself and says which (no race for a port).
    command = [sys.executable, "-m", "poolscope", "serve", "--host", "127.0.0.1", "--port", "0"]
    command += ["--driver", driver, "--workers", str(workers), *serve_flags(settings)]
    env = dict(os.environ)
    if database_url:
        # Through the environment, not the command line, where `ps` would show it.
        env[DATABASE_URL_ENV] = database_url
    service = ManagedProcess("service", command, log_path=workdir / "service.log", env=env)
    return service.start()


def wait_until_ready(service: ManagedProcess, secrets: Sequence[str]) -> str:
    """The service's base URL once it answers ``/health``."""
    deadline = time.monotonic() + SERVICE_READY_SECONDS
    host: str | None = None
    with httpx.Client(timeout=2) as client:
        while time.monotonic() < deadline:
            code = service.poll()
            if code is not None:
                tail = service.log_tail(hide=secrets)
                raise PoolscopeError(
                    f"the service exited with code {code} before it was ready:\n{tail}"
                )
            if host is None:
                found = _LISTENING.search(service.log_tail(50))
                host = found.group(1) if found else None
            if host is not None:
                with contextlib.suppress(httpx.HTTPError):
                    if client.get(f"{host}/health").status_code == 200:
                        return host
            time.sleep(0.2)
    raise PoolscopeError(
        f"the service was not ready within {SERVICE_READY_SECONDS:.0f} s:\n"
        f"{service.log_tail(hide=secrets)}"
    )


@dataclass(frozen=True, kw_only=True)
class MasterOptions:
    """Locust as master: it generates no load itself and starts once ``expect_workers``
    ``locust --worker`` processes have connected to ``bind_host:port``."""

    expect_workers: int
    bind_host: str
    port: int
    wait_seconds: float


def locust_command(
    locustfile: Path,
    user_classes: Sequence[str],
    *,
    host: str,
    users: int,
    spawn_rate: float,
    duration: int,
    processes: int,
    files: LocustFiles,
    master: MasterOptions | None = None,
    also_load: Sequence[Path] = (),
) -> list[str]:
    """Locust headless for ``duration`` seconds, its statistics written to ``files``;
    ``also_load``: files Locust loads beside the locustfile (poolscope's own hooks)."""
    files_given = ",".join(str(path) for path in (locustfile, *also_load))
    command = [sys.executable, "-m", "locust", "-f", files_given, "--headless"]
    command += ["--host", host, "-u", str(users), "-r", f"{spawn_rate:g}", "-t", f"{duration}s"]
    command += ["--csv", files.csv_prefix, "--json-file", files.json_arg, "--only-summary"]
    # Failed requests are part of what a scenario shows (503s when the pool runs dry).
    command += ["--exit-code-on-error", "0", "--loglevel", "WARNING"]
    if processes > 1:
        command += ["--processes", str(processes)]
    if master is not None:
        command += ["--master", "--expect-workers", str(master.expect_workers)]
        command += ["--master-bind-host", master.bind_host]
        command += ["--master-bind-port", str(master.port)]
        command += ["--expect-workers-max-wait", f"{master.wait_seconds:g}"]
    return [*command, *user_classes]
