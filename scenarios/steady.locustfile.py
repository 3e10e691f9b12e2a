"""Steady: fixed users on 50 ms holds, no wait time; throughput = min(pool, users) / 0.05 s.

A locustfile for Locust itself:
``locust -f scenarios/steady.locustfile.py --host URL`` against a ``poolscope serve``
started with the flags ``poolscope scenarios`` shows for steady. The scenario
lives in ``poolscope.scenarios.steady``, inside the installed package.
"""

import poolscope.locust  # noqa: F401  (registers the web UI's Pool tab)
from poolscope.scenarios.steady import SteadyUser

__all__ = ["SteadyUser"]
