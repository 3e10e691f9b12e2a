"""The FastAPI Depends deadlock: a sync yield dependency stalls the service; its fix does not.

A locustfile for Locust itself:
``locust -f scenarios/depends-deadlock.locustfile.py --host URL`` against a ``poolscope serve``
started with the flags ``poolscope scenarios`` shows for depends-deadlock. The scenario
lives in ``poolscope.scenarios.depends_deadlock``, inside the installed package.
"""

import poolscope.locust  # noqa: F401  (registers the web UI's Pool tab)
from poolscope.scenarios.depends_deadlock import DependsUser, FixedUser

__all__ = ["DependsUser", "FixedUser"]
