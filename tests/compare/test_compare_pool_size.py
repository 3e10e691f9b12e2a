"""Runs whose targets differ in pool size: the columns say each run's pool, and the verdict
says when the pool size is the only setting that changed."""

from __future__ import annotations

from pathlib import Path

from poolscope.compare import build_comparison
from poolscope.compare._inputs import LoadedRun
from poolscope.loadtest import Run, load_run

RECORDED = Path(__file__).parent.parent / "data" / "runs" / "engine-per-request"


def recorded(variant: str) -> Run:
    (path,) = RECORDED.glob(f"engine-per-request-{variant}-*.json")
    return load_run(path)


def with_setup(run: Run, label: str, **configuration: int) -> LoadedRun:
    changed = run.model_copy(
        update={
            "variant": label,
            "configuration": run.configuration.model_copy(update=configuration),
        }
    )
    return LoadedRun(path=Path(f"{label}.json"), run=changed)


def test_only_the_pool_size_changed() -> None:
    run = recorded("global")
    comparison = build_comparison(
        [with_setup(run, "small", pool_size=2), with_setup(run, "large", pool_size=10)]
    )
    assert [(c.pool_size, c.max_overflow) for c in comparison.runs] == [(2, 0), (10, 0)]
    [verdict] = comparison.verdicts
    assert verdict.startswith("large vs small (only the pool size changed: 2 to 10): ")


def test_pool_size_and_users_changed() -> None:
    run = recorded("global")
    comparison = build_comparison(
        [with_setup(run, "small", pool_size=2), with_setup(run, "large", pool_size=10, users=8)]
    )
    [verdict] = comparison.verdicts
    assert verdict.startswith("large vs small: ")


def test_other_user_classes_are_another_setting() -> None:
    # The recorded variants differ in what they play, not in the pool.
    comparison = build_comparison(
        [
            with_setup(recorded("global"), "global", pool_size=2),
            with_setup(recorded("per-request"), "per-request", pool_size=10),
        ]
    )
    [verdict] = comparison.verdicts
    assert verdict.startswith("per-request vs global: ")
