"""Overflow burst: 15 at once on a pool of 5 + overflow 10; overflow hits 10, then drains to 0.

A locustfile for Locust itself:
``locust -f scenarios/overflow-burst.locustfile.py --host URL`` against a ``poolscope serve``
started with the flags ``poolscope scenarios`` shows for overflow-burst. The scenario
lives in ``poolscope.scenarios.overflow_burst``, inside the installed package.
"""

import poolscope.locust  # noqa: F401  (registers the web UI's Pool tab)
from poolscope.scenarios.overflow_burst import OverflowBurstUser

__all__ = ["OverflowBurstUser"]
