"""Which processes are alive, read from /proc: for tests that prove nothing outlives a run;
and a child that Ctrl-C reaches however the tests were started."""

from __future__ import annotations

import signal
from pathlib import Path


def alive(pid: int) -> bool:
    """Running (a zombie, exited but not yet reaped, counts as gone)."""
    try:
        state = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()[0]
    except OSError:
        return False
    return state != "Z"


def descendants(root: int) -> set[int]:
    """Every process below ``root``: its children, theirs, and so on."""
    children: dict[int, list[int]] = {}
    for entry in Path("/proc").iterdir():
        if entry.name.isdigit():
            try:
                ppid = int((entry / "stat").read_text().rsplit(")", 1)[1].split()[1])
            except (OSError, IndexError, ValueError):
                continue
            children.setdefault(ppid, []).append(int(entry.name))
    found: set[int] = set()
    todo = [root]
    while todo:
        for child in children.get(todo.pop(), []):
            found.add(child)
            todo.append(child)
    return found


def interruptible() -> None:
    """A ``preexec_fn`` that lets Ctrl-C reach the child: a shell starts background jobs
    with SIGINT ignored, a child inherits that, and Python then never raises
    KeyboardInterrupt, so a test run in the background would send its SIGINT in vain."""
    signal.signal(signal.SIGINT, signal.SIG_DFL)
