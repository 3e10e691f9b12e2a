"""``poolscope run --locustfile``: any Locust test against any instrumented service.

The locustfile is checked before anything starts: it exists, imports and defines the
user classes asked for. Locust itself answers (``locust -f FILE --list`` in a
subprocess): importing the file here would import Locust, which gevent-patches the
process. Then the target is asked which pool it has and how it is set, and the test is
played as a scenario variant is, into one run file.
"""

from __future__ import annotations

import hashlib
import subprocess
import sys
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path

from poolscope.loadtest._plan import RunOptions, RunPlan
from poolscope.loadtest._progress import NullReporter, Reporter
from poolscope.loadtest._run import RunIncompleteError, play, sigterm_interrupts, write_outcome
from poolscope.loadtest._target import RunInputError, TargetError, inspect_target
from poolscope.readings import MAX_RUN_FILE_BYTES, LocustfileRecord, read_regular_file

__all__ = ["LocustfileError", "LocustfileInfo", "describe_locustfile", "run_locustfile"]

DEFAULT_USERS = 10

LIST_TIMEOUT_SECONDS = 120.0
# Read whole for its digest: bounded as a run file is (docs/limits.md).
MAX_LOCUSTFILE_BYTES = MAX_RUN_FILE_BYTES
_LISTED = "Available Users:"


class LocustfileError(RunInputError):
    """A locustfile that cannot be played: missing, not importable, no user class."""


@dataclass(frozen=True, kw_only=True)
class LocustfileInfo:
    path: Path  # absolute
    sha256: str
    user_classes: tuple[str, ...]  # every user class it defines, as Locust lists them


def _last_line(text: str) -> str:
    lines = [line.strip() for line in text.splitlines() if line.strip()]
    return lines[-1] if lines else "no output"


def describe_locustfile(path: Path, wanted: Sequence[str] = ()) -> LocustfileInfo:
    """The locustfile's user classes, or a one-line :class:`LocustfileError`."""
    if not path.exists():
        raise LocustfileError(f"locustfile {path} does not exist")
    if not path.is_file():
        raise LocustfileError(f"locustfile {path} is not a file")
    resolved = path.resolve()
    source = read_regular_file(
        path, kind="locustfile", limit=MAX_LOCUSTFILE_BYTES, error=LocustfileError
    )
    digest = hashlib.sha256(source).hexdigest()
    try:
        result = subprocess.run(
            [sys.executable, "-m", "locust", "-f", str(resolved), "--list"],
            capture_output=True,
            text=True,
            timeout=LIST_TIMEOUT_SECONDS,
            check=False,
            cwd=resolved.parent,
            stdin=subprocess.DEVNULL,
        )
    except subprocess.TimeoutExpired:
        raise LocustfileError(
            f"locustfile {path}: Locust did not list its user classes within "
            f"{LIST_TIMEOUT_SECONDS:.0f} s"
        ) from None
    output = result.stdout + result.stderr
    if result.returncode != 0 or _LISTED not in result.stdout:
        raise LocustfileError(f"locustfile {path} fails to import: {_last_line(output)}")
    listed = result.stdout.split(_LISTED, 1)[1]
    classes = tuple(line.strip() for line in listed.splitlines() if line.strip())
    if not classes:
        raise LocustfileError(f"locustfile {path} defines no Locust user class")
    missing = [name for name in wanted if name not in classes]
    if missing:
        raise LocustfileError(
            f"locustfile {path} has no user class {', '.join(missing)}; "
            f"it has: {', '.join(classes)}"
        )
    return LocustfileInfo(path=resolved, sha256=digest, user_classes=classes)


def run_locustfile(
    locustfile: Path,
    options: RunOptions,
    *,
    user_classes: Sequence[str] = (),
    label: str | None = None,
    reporter: Reporter | None = None,
) -> Path:
    """Play ``locustfile`` against ``options.host`` and return the run file written
    (``OUT/LABEL-TIMESTAMP.json``; the label defaults to the locustfile's stem).

    Bad input (the locustfile, no poolscope metrics at the target, an ambiguous pool) is
    a :class:`RunInputError` raised before anything starts; a play that did not finish
    raises :class:`RunIncompleteError` after its run file was written.
    """
    reporter = reporter or NullReporter()
    if not options.host:
        raise TargetError("--locustfile needs --host: the URL of the service to load")
    info = describe_locustfile(locustfile, user_classes)
    inspect_target(options.host, metrics_url=options.metrics_url, pool=options.pool)
    name = label or locustfile.stem
    if not name or "/" in name:
        raise RunInputError(f"cannot name a run {name!r}; give --label NAME")
    users = options.users or DEFAULT_USERS
    plan = RunPlan(
        scenario=locustfile.stem,
        variant=name,
        locustfile=info.path,
        user_classes=tuple(user_classes),
        users=users,
        spawn_rate=options.spawn_rate or float(users),
        file_prefix=name,
        record=LocustfileRecord(
            path=str(info.path), sha256=info.sha256, user_classes=list(user_classes)
        ),
    )
    with sigterm_interrupts():
        run, outcome = play(plan, options, None, reporter)
        path = write_outcome(run, outcome, options.out_dir, reporter)
    if outcome.failure:
        raise RunIncompleteError(outcome.failure, [path])
    return path
