"""Held idle: a session open across a 0.5 s outside call vs closed before it, same pool.

A locustfile for Locust itself:
``locust -f scenarios/held-idle.locustfile.py --host URL`` against a ``poolscope serve``
started with the flags ``poolscope scenarios`` shows for held-idle. The scenario
lives in ``poolscope.scenarios.held_idle``, inside the installed package.
"""

import poolscope.locust  # noqa: F401  (registers the web UI's Pool tab)
from poolscope.scenarios.held_idle import AcrossCallUser, ReleasedUser

__all__ = ["AcrossCallUser", "ReleasedUser"]
