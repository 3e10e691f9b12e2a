"""What a reader should know beside the figures: warnings (the comparison may mislead)
and notes (setups that differ, each scenario's own check)."""

from __future__ import annotations

from collections.abc import Sequence

from poolscope.compare._inputs import LoadedRun
from poolscope.loadtest import Run

__all__ = ["notes", "setup_differences", "warnings"]

# Setup fields that change what the figures mean when runs differ in them.
SETUP_FIELDS = (
    "driver",
    "pool_size",
    "max_overflow",
    "pool_timeout",
    "users",
    "duration_seconds",
    "processes",
    "service_workers",
)


def setup_differences(baseline: Run, run: Run) -> list[str]:
    """The settings ``run`` was played with that differ from the baseline's: the setup
    fields, and what was played (scenario, locustfile contents, user classes)."""
    differ = [
        field
        for field in SETUP_FIELDS
        if repr(getattr(baseline.configuration, field)) != repr(getattr(run.configuration, field))
    ]
    played = [
        ("scenario", baseline.scenario, run.scenario),
        ("locustfile", _sha(baseline), _sha(run)),
        (
            "user_classes",
            baseline.configuration.extra.get("user_classes"),
            run.configuration.extra.get("user_classes"),
        ),
    ]
    return differ + [name for name, before, after in played if before != after]


def _sha(run: Run) -> str | None:
    return run.locustfile.sha256 if run.locustfile is not None else None


def warnings(runs: Sequence[LoadedRun], labels: Sequence[str]) -> list[str]:
    found = []
    scenarios = sorted({item.run.scenario for item in runs})
    if len(scenarios) > 1:
        found.append(
            f"the runs come from different scenarios ({', '.join(scenarios)}); compared anyway"
        )
    for item, label in zip(runs, labels, strict=True):
        if not item.run.complete:
            reason = item.run.incomplete_reason or "no reason recorded"
            found.append(f"run {label} is incomplete ({reason})")
    return found


def notes(runs: Sequence[LoadedRun], labels: Sequence[str]) -> list[str]:
    found = []
    for field in SETUP_FIELDS:
        values = [getattr(item.run.configuration, field) for item in runs]
        if len({repr(value) for value in values}) > 1:
            shown = ", ".join(
                f"{value:.3g} ({label})" if isinstance(value, float) else f"{value} ({label})"
                for value, label in zip(values, labels, strict=True)
            )
            found.append(f"setups differ in {field}: {shown}")
    checks = [(item.run.check, f"{label}: ") for item, label in zip(runs, labels, strict=True)]
    # poolscope run checks a scenario over all its variants and stores the same check in
    # each run file: say it once.
    if all(check == checks[0][0] for check, _ in checks):
        checks = [(checks[0][0], "")]
    for check, prefix in checks:
        if check is not None:
            outcome = "passed" if check.passed else "FAILED"
            found.append(f"{prefix}scenario check {outcome}: {check.verdict}")
    return found
