"""Every poolscope scenario, for ``locust -f locustfile.py --host http://127.0.0.1:8000``.

The web UI lets you pick a scenario's user class and shows a "Pool" tab with the
target's pool state. Headless, name the user classes (``locust -f locustfile.py
--headless -u 11 -t 30s --host URL PoolSaturationUser``) or select by tag
(``--tags pool-saturation``). ``poolscope scenarios`` lists them with their settings;
``poolscope run SCENARIO`` also starts the service with those settings and records the run.
"""

from typing import Any

from locust import events

import poolscope.locust  # noqa: F401  (registers the web UI's Pool tab)
from poolscope.scenarios.depends_deadlock import DependsUser, FixedUser
from poolscope.scenarios.engine_per_request import EnginePerRequestUser, GlobalEngineUser
from poolscope.scenarios.held_idle import AcrossCallUser, ReleasedUser
from poolscope.scenarios.overflow_burst import OverflowBurstUser
from poolscope.scenarios.pool_saturation import PoolSaturationUser
from poolscope.scenarios.session_leak import FixedSessionUser, LeakySessionUser
from poolscope.scenarios.steady import SteadyUser

__all__ = [
    "AcrossCallUser",
    "DependsUser",
    "EnginePerRequestUser",
    "FixedSessionUser",
    "FixedUser",
    "GlobalEngineUser",
    "LeakySessionUser",
    "OverflowBurstUser",
    "PoolSaturationUser",
    "ReleasedUser",
    "SteadyUser",
]


@events.init.add_listener
def _pick_one_scenario(environment: Any, **_kwargs: Any) -> None:
    # Scenarios are meant to run one at a time: the web UI offers the class picker.
    if environment.web_ui is not None:
        environment.web_ui.userclass_picker_is_active = True
