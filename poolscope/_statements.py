"""Time in statements per checkout: the dialect's execute methods, measured.

``do_execute``, ``do_executemany`` and ``do_execute_no_params`` are where SQLAlchemy hands a
statement to the driver and waits for it (an async driver's await included), and
``do_commit`` where it commits (a round trip too, counted as a statement). The rollback
that resets a connection at checkin is not measured: it runs at every checkin, also of a
checkout without statements, whose path must cost what it did. poolscope
replaces them on the instrumented engine's dialect instance with functions that add the
statement's time to the connection's :class:`~poolscope._leaks.Checkout`, found through
the execution context's pooled connection: three attribute reads, two clock reads, a few
stores. No SQLAlchemy event is dispatched per statement (its dispatch alone would cost
more), and a checkout that runs no statement pays nothing here.
"""

from __future__ import annotations

from collections.abc import Callable
from time import perf_counter
from typing import Any

__all__ = ["MEASURED_METHODS", "measure_statements", "stop_measuring_statements"]

MEASURED_METHODS = ("do_execute", "do_executemany", "do_execute_no_params", "do_commit")

# On poolscope's replacements: what they replaced, if the dialect instance had it itself
# (None: the dialect's class method), so that close() puts back exactly that.
_REPLACED = "__poolscope_replaced__"


def _measured_execute(execute: Callable[..., Any]) -> Callable[..., Any]:
    """``do_execute`` / ``do_executemany``: (cursor, statement, parameters, context)."""

    def do_execute(cursor: Any, statement: Any, parameters: Any, context: Any = None) -> Any:
        try:
            checkout = context._dbapi_connection._connection_record.poolscope_checkout
        except AttributeError:
            # No context, or a connection poolscope does not measure: run it as it is.
            return execute(cursor, statement, parameters, context)
        checkout.statement_started = started = perf_counter()
        try:
            return execute(cursor, statement, parameters, context)
        finally:
            checkout.statement_ended = ended = perf_counter()
            checkout.busy += ended - started
            checkout.statements += 1

    return do_execute


def _measured_execute_no_params(execute: Callable[..., Any]) -> Callable[..., Any]:
    """``do_execute_no_params``: (cursor, statement, context)."""

    def do_execute_no_params(cursor: Any, statement: Any, context: Any = None) -> Any:
        try:
            checkout = context._dbapi_connection._connection_record.poolscope_checkout
        except AttributeError:
            return execute(cursor, statement, context)
        checkout.statement_started = started = perf_counter()
        try:
            return execute(cursor, statement, context)
        finally:
            checkout.statement_ended = ended = perf_counter()
            checkout.busy += ended - started
            checkout.statements += 1

    return do_execute_no_params


def _measured_commit(commit: Callable[..., Any]) -> Callable[..., Any]:
    """``do_commit``: (dbapi_connection), the pooled connection itself."""

    def do_commit(dbapi_connection: Any) -> Any:
        try:
            checkout = dbapi_connection._connection_record.poolscope_checkout
        except AttributeError:
            return commit(dbapi_connection)
        checkout.statement_started = started = perf_counter()
        try:
            return commit(dbapi_connection)
        finally:
            checkout.statement_ended = ended = perf_counter()
            checkout.busy += ended - started
            checkout.statements += 1

    return do_commit


_WRAPPERS = {
    "do_execute": _measured_execute,
    "do_executemany": _measured_execute,
    "do_execute_no_params": _measured_execute_no_params,
    "do_commit": _measured_commit,
}


def measure_statements(dialect: Any) -> None:
    """Measure every statement the dialect runs on a measured connection, from now on."""
    for name in MEASURED_METHODS:
        current = getattr(dialect, name)
        if hasattr(current, _REPLACED):
            continue  # measured already: engines sharing a dialect
        measured = _WRAPPERS[name](current)
        setattr(measured, _REPLACED, vars(dialect).get(name))
        setattr(dialect, name, measured)


def stop_measuring_statements(dialect: Any) -> None:
    """Give the dialect its own execute methods back."""
    for name in MEASURED_METHODS:
        current = vars(dialect).get(name)
        if current is None or not hasattr(current, _REPLACED):
            continue
        replaced = getattr(current, _REPLACED)
        if replaced is None:
            delattr(dialect, name)
        else:
            setattr(dialect, name, replaced)
