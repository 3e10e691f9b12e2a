"""Files other than run files that a user names: a sweep file and a locustfile are read,
like a run file, only when they are regular files within the documented size; anything
else is one line (exit 2 for the locustfile), read in bounded time and memory."""

from __future__ import annotations

import json
import os
import resource
import subprocess
import sys
import textwrap
from pathlib import Path

import pytest
from typer.testing import CliRunner

from poolscope.cli._app import app
from poolscope.readings import MAX_RUN_FILE_BYTES

pytestmark = pytest.mark.timeout(30)

MEMORY_LIMIT = 1024 * 1024 * 1024  # address space: the interpreter and its libraries fit


def _limit_memory() -> None:
    # Should a read ever go unbounded again, it fails here, not on the shared machine.
    resource.setrlimit(resource.RLIMIT_AS, (MEMORY_LIMIT, MEMORY_LIMIT))


def no_user_file(directory: Path, case: str) -> Path:
    """A path named like a file a user gives, which is none a command should read."""
    path = directory / f"{case}.json"
    if case == "device":
        path.symlink_to("/dev/zero")
    elif case == "fifo":
        os.mkfifo(path)  # no writer: opening it must not wait for one
    elif case == "directory":
        path.mkdir()
    else:
        with path.open("wb") as file:
            file.truncate(MAX_RUN_FILE_BYTES + 1)  # sparse: nothing to read
    return path


LOAD_SWEEPS = textwrap.dedent(
    """
    import json, sys
    from pathlib import Path
    from poolscope.sweep import SweepFileError, load_sweep
    said = {}
    for name in sys.argv[1:]:
        try:
            load_sweep(Path(name))
        except SweepFileError as error:
            said[name] = str(error)
    print(json.dumps(said))
    """
)


@pytest.mark.process
def test_a_sweep_file_that_is_no_file_is_refused_unread(tmp_path: Path) -> None:
    cases = ("device", "fifo", "directory", "too-large")
    paths = [str(no_user_file(tmp_path, case)) for case in cases]
    result = subprocess.run(
        [sys.executable, "-c", LOAD_SWEEPS, *paths],
        capture_output=True,
        text=True,
        timeout=20,
        check=False,
        preexec_fn=_limit_memory,
    )
    assert result.returncode == 0, result.stderr
    said = json.loads(result.stdout)
    not_regular = "not a regular file (a FIFO, device or socket); sweep files are read from "
    assert said == {
        paths[0]: f"{paths[0]}: {not_regular}regular files only",
        paths[1]: f"{paths[1]}: {not_regular}regular files only",
        paths[2]: f"{paths[2]}: is a directory",
        paths[3]: f"{paths[3]}: larger than 64 MiB, the most a sweep file is read to "
        "(docs/limits.md)",
    }


@pytest.mark.parametrize(
    ("case", "said"),
    [
        ("device", "is not a file"),
        ("fifo", "is not a file"),
        ("directory", "is not a file"),
        ("too-large", "larger than 64 MiB, the most a locustfile is read to"),
    ],
)
def test_a_locustfile_that_is_no_file_is_one_line_and_exit_2(
    tmp_path: Path, case: str, said: str
) -> None:
    locustfile = no_user_file(tmp_path, case)
    # No target at all: the locustfile is checked before anything else.
    result = CliRunner().invoke(
        app,
        [
            "run",
            "--locustfile",
            str(locustfile),
            "--host",
            "http://127.0.0.1:9",
            "--out",
            str(tmp_path / "runs"),
        ],
    )
    assert result.exit_code == 2, result.output
    (line,) = result.stderr.splitlines()
    assert line.startswith("poolscope: error: ")
    assert said in line
    assert not (tmp_path / "runs").exists()
