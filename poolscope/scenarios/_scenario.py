"""What a scenario declares: the service settings it needs, its variants and its check.

Plain data, no Locust: ``python -m poolscope.scenarios describe`` prints it as JSON so that
``poolscope run`` learns it without importing Locust into its own process.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from typing import Any

from poolscope.readings import Run, ScenarioCheck

Setting = int | float | str | None
Check = Callable[[Mapping[str, Run]], ScenarioCheck]


@dataclass(frozen=True, kw_only=True)
class Variant:
    name: str
    description: str
    user_classes: tuple[type, ...]
    settings: Mapping[str, Setting] = field(default_factory=dict)


@dataclass(frozen=True, kw_only=True)
class Scenario:
    name: str
    summary: str
    settings: Mapping[str, Setting]  # poolscope serve settings: pool_size, max_overflow, ...
    users: int
    spawn_rate: float
    variants: tuple[Variant, ...]
    check: Check
    # Harmless requests that get a 2xx only from a target serving the routes the scenario
    # loads; `poolscope run --host` sends them first.
    probes: tuple[str, ...] = ()

    def describe(self, locustfile: str) -> dict[str, Any]:
        return {
            "name": self.name,
            "summary": self.summary,
            "locustfile": locustfile,
            "users": self.users,
            "spawn_rate": self.spawn_rate,
            "settings": dict(self.settings),
            "probes": list(self.probes),
            "variants": [
                {
                    "name": variant.name,
                    "description": variant.description,
                    "user_classes": [user_class.__name__ for user_class in variant.user_classes],
                    "settings": dict(variant.settings),
                }
                for variant in self.variants
            ],
        }


def verdict(
    scenario: str, findings: list[tuple[bool, str]], *, cause: str | None = None
) -> ScenarioCheck:
    """One check result from (held, what it says) findings; passes when all hold. A
    ``cause`` names, in words, what the scenario showed."""
    passed = bool(findings) and all(held for held, _ in findings)
    failed = [text for held, text in findings if not held]
    if passed:
        line = f"{scenario}: as expected" + (f": {cause}" if cause else "")
    else:
        line = f"{scenario}: NOT as expected: {failed[0] if failed else 'no complete run'}"
    details = [("ok   " if held else "FAIL ") + text for held, text in findings]
    return ScenarioCheck(passed=passed, verdict=line, details=details)
