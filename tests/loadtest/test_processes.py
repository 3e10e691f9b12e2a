"""Child processes poolscope starts never outlive it: stopping one stops its whole group."""

from __future__ import annotations

import os
import time
from pathlib import Path

from poolscope.loadtest._processes import ManagedProcess
from tests.support.processes import alive
from tests.support.waiting import wait_until


def test_stop_ends_the_child_and_its_own_children(tmp_path: Path) -> None:
    # A shell that ignores SIGTERM and leaves a grandchild behind: the worst case.
    script = "trap '' TERM; sleep 60 & echo $!; wait"
    process = ManagedProcess("stubborn", ["bash", "-c", script], log_path=tmp_path / "log").start()
    deadline = time.monotonic() + 10
    while not (tmp_path / "log").read_text().strip() and time.monotonic() < deadline:
        time.sleep(0.05)
    grandchild = int((tmp_path / "log").read_text().split()[0])
    assert process.pid is not None
    assert os.getpgid(grandchild) == process.pid
    process.stop(grace_seconds=0.5)
    assert process.poll() is not None
    wait_until(lambda: not alive(grandchild), timeout=5)
    assert not alive(process.pid)


def test_log_tail_hides_secrets(tmp_path: Path) -> None:
    process = ManagedProcess(
        "talker",
        ["bash", "-c", "echo connecting with s3cret-pw; echo done"],
        log_path=tmp_path / "log",
    ).start()
    process.wait(10)
    tail = process.log_tail(hide=["s3cret-pw"])
    assert "s3cret-pw" not in tail
    assert tail.splitlines() == ["connecting with ***", "done"]
