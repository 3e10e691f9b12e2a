"""Engine per request: building an engine in each request opens a connection every time.

A locustfile for Locust itself:
``locust -f scenarios/engine-per-request.locustfile.py --host URL`` against a ``poolscope serve``
started with the flags ``poolscope scenarios`` shows for engine-per-request. The scenario
lives in ``poolscope.scenarios.engine_per_request``, inside the installed package.
"""

import poolscope.locust  # noqa: F401  (registers the web UI's Pool tab)
from poolscope.scenarios.engine_per_request import EnginePerRequestUser, GlobalEngineUser

__all__ = ["EnginePerRequestUser", "GlobalEngineUser"]
