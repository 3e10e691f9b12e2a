"""A pytest plugin for SQLAlchemy's own test suite: its pools become poolscope's.

Loaded with ``-p`` into a run of SQLAlchemy's tests (tests/core/test_sqlalchemy_suite.py
starts it), before SQLAlchemy's conftest and test modules import anything.
``POOLSCOPE_SUITE_MODE`` says what it does:

- ``rebind``: ``QueuePool`` and ``AsyncAdaptedQueuePool`` (and 2.0's
  ``FallbackAsyncAdaptedQueuePool``) are poolscope's classes wherever SQLAlchemy names
  them, so every pool the tests or ``create_engine()`` build is one;
- ``instrument``: the same, and every such pool is also passed through
  ``poolscope.instrument()`` (on an Engine built around it) with leak detection on,
  closed when its test ends.

``POOLSCOPE_SUITE_COUNTS`` names a JSON file where it writes how many pools of each class
the run built (and passed through ``instrument()``), so the caller can check the
rebinding took effect.
"""

from __future__ import annotations

import json
import os
import sys
from collections import Counter
from typing import Any

import sqlalchemy.log
from prometheus_client import CollectorRegistry
from sqlalchemy.engine import URL, Engine
from sqlalchemy.engine.default import DefaultDialect
from sqlalchemy.pool import Pool

from poolscope import Instrumentation, InstrumentedQueuePool, instrument
from poolscope._pool import MEASURING_CLASSES

MODE = os.environ.get("POOLSCOPE_SUITE_MODE", "rebind")
if MODE not in ("rebind", "instrument"):
    raise ValueError(f"POOLSCOPE_SUITE_MODE must be rebind or instrument, not {MODE!r}")
LEAK_THRESHOLD = 0.05

built: Counter[str] = Counter()
instrumented: Counter[str] = Counter()
instrumentations: list[Instrumentation] = []
engines: list[Engine] = []


def rebind() -> None:
    """Every name SQLAlchemy has for its queue pools, module attributes and dialects'
    ``poolclass`` alike, now means poolscope's class."""
    for name, module in list(sys.modules.items()):
        if module is None or not name.startswith("sqlalchemy"):
            continue
        for attribute, value in list(vars(module).items()):
            if isinstance(value, type) and value in MEASURING_CLASSES:
                setattr(module, attribute, MEASURING_CLASSES[value])
            elif isinstance(value, type) and value in MEASURING_CLASSES.values():
                continue
            elif isinstance(value, type) and vars(value).get("poolclass") in MEASURING_CLASSES:
                value.poolclass = MEASURING_CLASSES[vars(value)["poolclass"]]  # type: ignore[attr-defined]


_instance_logger = sqlalchemy.log.instance_logger


def counting_instance_logger(instance: Any, echoflag: Any = None) -> None:
    # Pool.__init__ names its logger first thing (and again as it sets echo): the one
    # hook into every pool's construction that leaves Pool.__init__'s signature alone,
    # which create_engine() reads to tell the pool's arguments.
    if isinstance(instance, Pool) and not hasattr(instance, "_creator"):
        built[type(instance).__name__] += 1
    _instance_logger(instance, echoflag)


def instrumenting_init(self: InstrumentedQueuePool, *args: Any, **kwargs: Any) -> None:
    # In the class's own __dict__ with **kwargs: create_engine() reads on to the bases'
    # signatures.
    super(InstrumentedQueuePool, self).__init__(*args, **kwargs)
    # Subclasses the tests define included; a pool that recreate() built in the class
    # instrument() made is measured already.
    if type(self)._poolscope_probe is None:
        # An Engine of its own around the pool, as create_engine(pool=) would build but
        # without touching the pool (no dialect set on it, no listener added).
        instrumented[type(self).__name__] += 1
        engine = Engine(self, DefaultDialect(), URL.create("sqlite"))
        instrumentations.append(
            instrument(engine, registry=CollectorRegistry(), leak_threshold=LEAK_THRESHOLD)
        )
        # The Instrumentation holds the engine weakly: kept here until the test ends (not
        # on the pool, whose __dict__ a test compares with its recreate()'s).
        engines.append(engine)


rebind()
sqlalchemy.log.instance_logger = counting_instance_logger
if MODE == "instrument":
    InstrumentedQueuePool.__init__ = instrumenting_init  # type: ignore[method-assign]


def pytest_runtest_teardown(item: Any) -> None:
    while instrumentations:
        instrumentations.pop().close()
    engines.clear()


def pytest_sessionfinish(session: Any, exitstatus: int) -> None:
    path = os.environ.get("POOLSCOPE_SUITE_COUNTS")
    if path:
        with open(path, "w") as file:
            json.dump({"built": built, "instrumented": instrumented}, file)
