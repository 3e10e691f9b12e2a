"""poolscope: SQLAlchemy connection pools made visible, and proven under load.

The library: ``instrument(engine)`` and what it returns. It needs SQLAlchemy and
prometheus-client only; the load-test tool (``poolscope[tool]``) lives in the
subpackages ``postgres``, ``service``, ``loadtest``, ``compare`` and ``cli``.
"""

from __future__ import annotations

# First: refuses an unsupported SQLAlchemy before anything else imports it.
from poolscope._compat import SUPPORTED_SQLALCHEMY
from poolscope._errors import PoolscopeError
from poolscope._instrument import Instrumentation, instrument
from poolscope._leaks import CheckedOutConnection
from poolscope._pool import InstrumentedAsyncAdaptedQueuePool, InstrumentedQueuePool
from poolscope._pool_state import PoolState
from poolscope._stacks import StackCapture
from poolscope._urls import mask_url, url_for_driver

__all__ = [
    "SUPPORTED_SQLALCHEMY",
    "CheckedOutConnection",
    "Instrumentation",
    "InstrumentedAsyncAdaptedQueuePool",
    "InstrumentedQueuePool",
    "PoolState",
    "PoolscopeError",
    "StackCapture",
    "instrument",
    "mask_url",
    "url_for_driver",
]
