"""Finding and reading the run files a comparison is made of.

Every problem with the input is a ``CompareInputError``: one line, exit code 2.
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from poolscope._errors import PoolscopeError
from poolscope.loadtest import Run, RunFileError, load_run

__all__ = ["CompareInputError", "LoadedRun", "collect_run_paths", "load_runs"]


class CompareInputError(PoolscopeError):
    """Input compare cannot use: a missing or damaged run file, too few runs."""


@dataclass(frozen=True, kw_only=True)
class LoadedRun:
    path: Path
    run: Run


def collect_run_paths(arguments: Sequence[Path]) -> list[Path]:
    """Files as given; a directory stands for the ``*.json`` files directly inside it."""
    paths: list[Path] = []
    for argument in arguments:
        if argument.is_dir():
            found = sorted(path for path in argument.glob("*.json") if path.is_file())
            if not found:
                raise CompareInputError(f"{argument}: no run files (*.json) in this directory")
            paths.extend(found)
        else:
            paths.append(argument)
    return paths


# No count or duration in a run file comes near this: a trillion requests, or seconds
# (milliseconds for latencies) beyond thirty thousand years.
PLAUSIBLE_LIMIT = 1e12
# Free-form, or bounds that are infinite by design (a histogram's last bucket is +Inf).
_NOT_MEASURED = {"extra", "upper_bounds"}


def _implausible(value: Any, where: str) -> str | None:
    """The first number under ``value`` that no run can have measured, as ``where = n``."""
    if isinstance(value, dict):
        for key, item in value.items():
            if key not in _NOT_MEASURED and (found := _implausible(item, f"{where}.{key}")):
                return found
    elif isinstance(value, list):
        for index, item in enumerate(value):
            if found := _implausible(item, f"{where}[{index}]"):
                return found
    elif isinstance(value, int) and not isinstance(value, bool):
        if not 0 <= value < PLAUSIBLE_LIMIT:
            try:
                shown = f"{value:.6g}"
            except OverflowError:  # an int of hundreds of digits has no float
                shown = f"a {len(str(abs(value)))}-digit number"
            return f"{where.lstrip('.')} = {shown}"
    elif isinstance(value, float) and not (math.isfinite(value) and 0 <= value < PLAUSIBLE_LIMIT):
        return f"{where.lstrip('.')} = {value:.6g}"
    return None


def _check_plausible(path: Path, run: Run) -> None:
    found = _implausible(run.model_dump(), "")
    if found is None and run.locust is not None:
        pairs = [(run.locust.requests, run.locust.failures)]
        pairs += [(endpoint.requests, endpoint.failures) for endpoint in run.locust.endpoints]
        for requests, failures in pairs:
            if failures > requests:
                found = f"locust failures = {failures} > requests = {requests}"
                break
    if found is not None:
        raise CompareInputError(
            f"{path}: not a plausible run file: {found} (counts and durations are finite, "
            "non-negative and below 1e12)"
        )


def _load(path: Path) -> Run:
    try:
        run = load_run(path)
    except RunFileError as error:
        raise CompareInputError(str(error)) from None
    except (RecursionError, ValueError, OverflowError) as error:
        # Pathological JSON (nesting too deep, absurd numbers) that load_run lets through.
        raise CompareInputError(
            f"{path}: not a readable run file ({type(error).__name__})"
        ) from None
    _check_plausible(path, run)
    return run


def _start_order(item: LoadedRun) -> tuple[float, str]:
    try:
        started = item.run.started_at.timestamp()
    except (ValueError, OverflowError, OSError):  # a damaged time, e.g. year 1 local time
        started = float("-inf")
    return started, item.path.name


def load_runs(arguments: Sequence[Path]) -> list[LoadedRun]:
    """The runs to compare, baseline first: files in the order given; the files of a
    directory in the order they were started (then by name)."""
    loaded: list[LoadedRun] = []
    for argument in arguments:
        group = [LoadedRun(path=path, run=_load(path)) for path in collect_run_paths([argument])]
        if argument.is_dir():
            group.sort(key=_start_order)
        loaded.extend(group)
    if len(loaded) < 2:
        given = ", ".join(str(item.path) for item in loaded) or "none"
        raise CompareInputError(f"compare needs two or more runs; got {len(loaded)} ({given})")
    return loaded
