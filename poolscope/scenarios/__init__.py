"""Locust scenarios that load the sample service; one module per scenario.

Importing this package does not import Locust; :func:`load` imports a scenario module
(and Locust with it), so only Locust's own processes and ``python -m poolscope.scenarios``
call it. Each module is a locustfile Locust imports by its path: they import by full names.
"""

from __future__ import annotations

import importlib
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from poolscope.scenarios._scenario import Scenario

# Each scenario's module, under poolscope.
MODULES = {
    "pool-saturation": "scenarios.pool_saturation",
    "engine-per-request": "scenarios.engine_per_request",
    "session-leak": "scenarios.session_leak",
    "overflow-burst": "scenarios.overflow_burst",
    "depends-deadlock": "scenarios.depends_deadlock",
    "steady": "scenarios.steady",
    "held-idle": "scenarios.held_idle",
}


def load(name: str) -> Scenario:
    scenario: Scenario = importlib.import_module(f"poolscope.{MODULES[name]}").SCENARIO
    return scenario
