"""Child processes that never outlive poolscope: each in its own process group, stopped
as a group (a uvicorn or Locust master's own workers go with it), and told by the kernel
to stop if poolscope itself dies without cleaning up."""

from __future__ import annotations

import contextlib
import ctypes
import logging
import os
import signal
import subprocess
import sys
from collections.abc import Mapping, Sequence
from pathlib import Path

from poolscope._redact import redact

__all__ = ["ManagedProcess"]

logger = logging.getLogger("poolscope.processes")

_PR_SET_PDEATHSIG = 1


def _die_with_parent() -> None:  # pragma: no cover - runs in the child before exec
    if sys.platform.startswith("linux"):
        with contextlib.suppress(OSError, AttributeError):
            ctypes.CDLL("libc.so.6", use_errno=True).prctl(_PR_SET_PDEATHSIG, signal.SIGTERM)


class ManagedProcess:
    """One child command whose output goes to ``log_path``."""

    def __init__(
        self,
        name: str,
        command: Sequence[str],
        *,
        log_path: Path,
        env: Mapping[str, str] | None = None,
        cwd: Path | None = None,
    ) -> None:
        self.name = name
        self.command = list(command)
        self.log_path = log_path
        self.env = dict(env) if env is not None else None
        self.cwd = cwd
        self._process: subprocess.Popen[bytes] | None = None

    @property
    def pid(self) -> int | None:
        return None if self._process is None else self._process.pid

    def start(self) -> ManagedProcess:
        self.log_path.parent.mkdir(parents=True, exist_ok=True)
        with self.log_path.open("ab") as log:
            self._process = subprocess.Popen(
                self.command,
                stdin=subprocess.DEVNULL,
                stdout=log,
                stderr=subprocess.STDOUT,
                env=self.env,
                cwd=self.cwd,
                start_new_session=True,
                preexec_fn=_die_with_parent,
            )
        logger.info("started %s (pid %s)", self.name, self._process.pid)
        return self

    def poll(self) -> int | None:
        """The exit code once it has exited, else None."""
        return None if self._process is None else self._process.poll()

    def wait(self, timeout: float) -> int | None:
        if self._process is None:
            return None
        try:
            return self._process.wait(timeout)
        except subprocess.TimeoutExpired:
            return None

    def stop(self, grace_seconds: float = 10.0) -> int | None:
        """SIGTERM to the process (it may finish its work: Locust writes its statistics),
        then SIGKILL to whatever is left of its group. Returns the exit code."""
        process = self._process
        if process is None:
            return None
        if process.poll() is None:
            with contextlib.suppress(ProcessLookupError):
                process.send_signal(signal.SIGTERM)
            try:
                process.wait(grace_seconds)
            except subprocess.TimeoutExpired:
                logger.warning(
                    "%s did not stop within %.0f s; killing it", self.name, grace_seconds
                )
        self._kill_group(signal.SIGTERM)
        with contextlib.suppress(subprocess.TimeoutExpired):
            process.wait(2)
        self._kill_group(signal.SIGKILL)
        with contextlib.suppress(subprocess.TimeoutExpired):
            process.wait(5)
        return process.poll()

    def _kill_group(self, sig: signal.Signals) -> None:
        if self._process is None:
            return
        with contextlib.suppress(ProcessLookupError, PermissionError):
            # start_new_session made the child its group's leader: pgid == pid, which
            # stays valid while any member lives, even after the leader exits.
            os.killpg(self._process.pid, sig)

    def log_tail(self, lines: int = 6, *, hide: Sequence[str] = ()) -> str:
        """The last lines of its output, with every string in ``hide`` masked, and any
        password it shows in a URL or an assignment (``poolscope._redact.redact``)."""
        try:
            text = redact(self.log_path.read_text(errors="replace"), hide)
        except OSError:
            return ""
        kept = [line for line in text.splitlines() if line.strip()]
        return "\n".join(kept[-lines:])
