"""``compare --scenario``: play every variant of a scenario with ``poolscope run``'s
machinery, then compare what it recorded."""

from __future__ import annotations

from pathlib import Path

from poolscope._errors import PoolscopeError
from poolscope.compare._inputs import CompareInputError
from poolscope.loadtest import Reporter, RunIncompleteError, RunOptions, find_scenario, run_scenario

__all__ = ["play_scenario"]


def play_scenario(name: str, options: RunOptions, reporter: Reporter) -> list[Path]:
    """The run files of all of ``name``'s variants, its first variant (the baseline) first.

    A run that did not finish is still compared (marked incomplete); a scenario that
    cannot be played is a ``CompareInputError``.
    """
    try:
        scenario = find_scenario(name)
    except PoolscopeError as error:
        raise CompareInputError(str(error)) from None
    if len(scenario.variants) < 2:
        only = ", ".join(variant.name for variant in scenario.variants)
        raise CompareInputError(
            f"scenario {name} has one variant ({only}): nothing to compare it with; "
            "compare its run files with others instead"
        )
    try:
        return run_scenario(name, (), options, reporter=reporter)
    except RunIncompleteError as error:
        reporter.note(f"not every variant finished ({error}); comparing what was recorded")
        return error.paths
    except PoolscopeError as error:
        raise CompareInputError(f"could not play scenario {name}: {error}") from None
