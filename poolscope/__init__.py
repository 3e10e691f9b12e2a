"""poolscope: SQLAlchemy connection pools made visible, and proven under load."""

from __future__ import annotations

from poolscope._embedded import EmbeddedPostgres, EmbeddedPostgresError
from poolscope._errors import PoolscopeError
from poolscope._instrument import Instrumentation, instrument
from poolscope._leaks import CheckedOutConnection
from poolscope._pool import InstrumentedAsyncAdaptedQueuePool, InstrumentedQueuePool
from poolscope._stacks import StackCapture
from poolscope._state import PoolState
from poolscope._urls import mask_url, url_for_driver

__all__ = [
    "CheckedOutConnection",
    "EmbeddedPostgres",
    "EmbeddedPostgresError",
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
