"""What ``run``, ``sweep`` and ``compare --scenario`` refuse before anything starts: load
beyond the documented bounds (unless ``--no-limits``) and an ``--out`` they could not
write to after the load has played (docs/limits.md)."""

from __future__ import annotations

import os
from collections.abc import Sequence
from pathlib import Path
from typing import Annotated

import typer

from poolscope._errors import UsageError

__all__ = [
    "MAX_DURATION_SECONDS",
    "MAX_POOL_SIZE",
    "MAX_SPAWN_RATE",
    "MAX_STEPS",
    "MAX_USERS",
    "MAX_WORKERS",
    "PROCESSES_PER_CORE",
    "NoLimits",
    "check_load",
    "check_out_dir",
    "check_out_file",
    "max_processes",
]

MAX_USERS = 10_000
MAX_SPAWN_RATE = 1_000.0  # users started per second
MAX_DURATION_SECONDS = 24 * 3600
# Locust workers the master waits for: each holds a connection to it and reports to it.
MAX_WORKERS = 1_000
# A sweep's steps (pool sizes, or user counts against --host): each is a whole run.
MAX_STEPS = 20
# Connections per pool: far past any database's default max_connections.
MAX_POOL_SIZE = 1_000
# Locust processes are CPU-bound: a few per core keep a machine answering.
PROCESSES_PER_CORE = 4
# Kernel file systems: nothing a report belongs in, and writes there can do harm.
_SYSTEM_DIRECTORIES = (Path("/proc"), Path("/sys"), Path("/dev"))

NoLimits = Annotated[
    bool,
    typer.Option(
        "--no-limits",
        help="Allow more users, spawn rate, duration, Locust processes or workers, sweep "
        "steps or pool size than the documented bounds (docs/limits.md).",
    ),
]


def max_processes() -> int:
    return (os.cpu_count() or 1) * PROCESSES_PER_CORE


def check_load(
    *,
    users: Sequence[int] = (),
    spawn_rate: float | None = None,
    duration_seconds: float | None = None,
    processes: int = 1,
    expect_workers: int = 0,
    pool_sizes: Sequence[int] = (),
    no_limits: bool = False,
) -> None:
    """A :class:`UsageError` naming the first figure beyond its bound. ``users`` and
    ``pool_sizes`` are a sweep's steps (or one run's users)."""
    if no_limits:
        return
    hint = "; give --no-limits to go beyond (docs/limits.md)"
    for option, steps in (("--pool-sizes", pool_sizes), ("--users", users)):
        if len(steps) > MAX_STEPS:
            raise UsageError(
                f"{option} names {len(steps)} steps, above the limit of {MAX_STEPS}{hint}"
            )
    if users and max(users) > MAX_USERS:
        raise UsageError(f"--users {max(users)} is above the limit of {MAX_USERS:,}{hint}")
    if pool_sizes and max(pool_sizes) > MAX_POOL_SIZE:
        raise UsageError(
            f"--pool-sizes {max(pool_sizes)} is above the limit of {MAX_POOL_SIZE:,}{hint}"
        )
    if expect_workers > MAX_WORKERS:
        raise UsageError(
            f"--expect-workers {expect_workers} is above the limit of {MAX_WORKERS:,}{hint}"
        )
    if spawn_rate is not None and spawn_rate > MAX_SPAWN_RATE:
        raise UsageError(
            f"--spawn-rate {spawn_rate:g} is above the limit of {MAX_SPAWN_RATE:g}/s{hint}"
        )
    if duration_seconds is not None and duration_seconds > MAX_DURATION_SECONDS:
        raise UsageError(
            f"--duration {duration_seconds:.0f} s is above the limit of "
            f"{MAX_DURATION_SECONDS // 3600} h{hint}"
        )
    if processes > max_processes():
        raise UsageError(
            f"--processes {processes} is above the limit of {max_processes()} "
            f"({PROCESSES_PER_CORE} per CPU core here){hint}"
        )


def _in_system_directory(path: Path) -> bool:
    resolved = path.resolve()
    return any(resolved.is_relative_to(root) for root in _SYSTEM_DIRECTORIES)


def check_out_dir(path: Path) -> None:
    """``path`` is a directory this process can write files in, or one it can create
    there (it is created when the first file is written: a refused run leaves nothing)."""
    if _in_system_directory(path):
        raise UsageError(f"--out {path}: not a place for run files (a kernel file system)")
    if path.exists() and not path.is_dir():
        raise UsageError(f"--out {path}: exists and is not a directory")
    existing = path
    while not existing.exists() and existing != existing.parent:
        existing = existing.parent
    if existing != path and not existing.is_dir():
        raise UsageError(f"--out {path}: cannot be created ({existing} is not a directory)")
    if not os.access(existing, os.W_OK | os.X_OK):
        raise UsageError(f"--out {path}: cannot write there ({existing} is not writable)")


def check_out_file(path: Path, inputs: Sequence[Path] = ()) -> None:
    """``path`` can take a report: a new or regular file in a writable directory, and none
    of the run files it is made of."""
    if _in_system_directory(path):
        raise UsageError(f"--out {path}: not a place for a report (a kernel file system)")
    if path.is_dir():
        raise UsageError(f"--out {path}: is a directory; name the report's file")
    if path.exists() and not path.is_file():
        raise UsageError(f"--out {path}: exists and is not a regular file")
    if any(path.resolve() == given.resolve() for given in inputs):
        raise UsageError(f"--out {path}: is one of the run files compared; name another file")
    parent = path.parent
    if not parent.is_dir():
        raise UsageError(f"--out {path}: cannot write the report (no directory {parent})")
    if not os.access(parent, os.W_OK | os.X_OK):
        raise UsageError(f"--out {path}: cannot write the report ({parent} is not writable)")
