"""The ``poolscope`` command run in the test's own process, for error paths: what a real
process prints, without a Python start-up per case (one real process per command proves no
traceback reaches a user)."""

from __future__ import annotations

import subprocess

from typer.testing import CliRunner

from poolscope.cli._app import app


def invoke(*arguments: str) -> subprocess.CompletedProcess[str]:
    """``poolscope ARGUMENTS`` in process; an exception other than the exit raises here."""
    result = CliRunner().invoke(app, list(arguments))
    if result.exception is not None and not isinstance(result.exception, SystemExit):
        raise result.exception
    return subprocess.CompletedProcess(
        ["poolscope", *arguments], result.exit_code, result.stdout, result.stderr
    )
