"""Session leak: sessions never closed hold their connections until the pool times out.

A locustfile for Locust itself:
``locust -f scenarios/session-leak.locustfile.py --host URL`` against a ``poolscope serve``
started with the flags ``poolscope scenarios`` shows for session-leak. The scenario
lives in ``poolscope.scenarios.session_leak``, inside the installed package.
"""

import poolscope.locust  # noqa: F401  (registers the web UI's Pool tab)
from poolscope.scenarios.session_leak import FixedSessionUser, LeakySessionUser

__all__ = ["FixedSessionUser", "LeakySessionUser"]
