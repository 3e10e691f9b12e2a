"""A user's own service for each step of a sweep: ``--serve-cmd 'CMD {port} {pool_size}'``.

The command runs without a shell, in its own process group (``ManagedProcess``), with its
output in a log file beside the run files; the sweep waits until the service's metrics
answer and checks that the pool it reports has the step's size.
"""

from __future__ import annotations

import shlex
import time
from collections.abc import Callable, Sequence
from pathlib import Path

from poolscope._errors import PoolscopeError
from poolscope.loadtest import ManagedProcess
from poolscope.postgres import free_port

__all__ = ["READY_SECONDS", "serve_command", "start_own_service"]

READY_SECONDS = 60.0
PLACEHOLDERS = ("{port}", "{pool_size}")


def serve_command(template: str, *, port: int, pool_size: int) -> list[str]:
    """The command line for one step: ``template`` split as a shell would (no shell runs
    it), with ``{port}`` and ``{pool_size}`` filled in wherever they appear."""
    try:
        parts = shlex.split(template)
    except ValueError as error:
        raise PoolscopeError(f"cannot read --serve-cmd {template!r}: {error}") from None
    for placeholder in PLACEHOLDERS:
        if not any(placeholder in part for part in parts):
            raise PoolscopeError(
                f"--serve-cmd needs a {placeholder} placeholder: "
                "e.g. 'uvicorn app:app --port {port}' with POOL_SIZE={pool_size} via env"
            )
    return [
        part.replace("{port}", str(port)).replace("{pool_size}", str(pool_size)) for part in parts
    ]


def start_own_service(
    template: str,
    pool_size: int,
    *,
    log_path: Path,
    reported_pool_size: Callable[[str], int | None],
    secrets: Sequence[str] = (),
) -> tuple[ManagedProcess, str]:
    """Start the command for ``pool_size`` on a free port; return it and its base URL once
    ``reported_pool_size(host)`` answers (None: its metrics do not answer yet).

    The service is stopped again before any error is raised: it died, never answered, or
    reports another pool size.
    """
    port = free_port()
    host = f"http://127.0.0.1:{port}"
    service = ManagedProcess(
        "service", serve_command(template, port=port, pool_size=pool_size), log_path=log_path
    ).start()
    try:
        reported = _wait_for_metrics(service, host, reported_pool_size, secrets)
        if reported != pool_size:
            raise PoolscopeError(
                f"the service started by --serve-cmd reports pool size {reported}, not "
                f"{pool_size}: pass {{pool_size}} to the setting its engine's pool_size reads"
            )
    except BaseException:
        service.stop(grace_seconds=10)
        raise
    return service, host


def _wait_for_metrics(
    service: ManagedProcess,
    host: str,
    reported_pool_size: Callable[[str], int | None],
    secrets: Sequence[str],
) -> int:
    deadline = time.monotonic() + READY_SECONDS
    while time.monotonic() < deadline:
        code = service.poll()
        if code is not None:
            raise PoolscopeError(
                f"the service started by --serve-cmd exited with code {code} before its "
                f"metrics answered: {service.log_tail(1, hide=secrets) or '(no output)'}"
            )
        reported = reported_pool_size(host)
        if reported is not None:
            return reported
        time.sleep(0.2)
    raise PoolscopeError(
        f"the service started by --serve-cmd did not answer {host}/metrics with pool "
        f"metrics within {READY_SECONDS:.0f} s; its output: {service.log_path}"
    )
