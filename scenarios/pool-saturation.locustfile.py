"""Pool saturation: 11 users on a pool of 10; ten checkouts wait ~0, the 11th waits ~1 s.

A locustfile for Locust itself:
``locust -f scenarios/pool-saturation.locustfile.py --host URL`` against a ``poolscope serve``
started with the flags ``poolscope scenarios`` shows for pool-saturation. The scenario
lives in ``poolscope.scenarios.pool_saturation``, inside the installed package.
"""

import poolscope.locust  # noqa: F401  (registers the web UI's Pool tab)
from poolscope.scenarios.pool_saturation import PoolSaturationUser

__all__ = ["PoolSaturationUser"]
