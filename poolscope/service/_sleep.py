"""The statement /hold runs: the server sleeps, in its own dialect's words."""

from __future__ import annotations

from typing import Any

from sqlalchemy import Float, bindparam, select
from sqlalchemy.ext.compiler import compiles
from sqlalchemy.sql.compiler import SQLCompiler
from sqlalchemy.sql.functions import FunctionElement

__all__ = ["HOLD", "ServerSleep"]


class ServerSleep(FunctionElement[Any]):
    """``pg_sleep(seconds)`` on PostgreSQL, ``SLEEP(seconds)`` on MySQL and MariaDB: the
    connection stays checked out while the server, not the service, waits."""

    name = "server_sleep"
    inherit_cache = True


@compiles(ServerSleep, "postgresql")
def _pg_sleep(element: ServerSleep, compiler: SQLCompiler, **kw: Any) -> str:
    return f"pg_sleep({compiler.process(element.clauses, **kw)})"


@compiles(ServerSleep, "mysql")
@compiles(ServerSleep, "mariadb")
def _mysql_sleep(element: ServerSleep, compiler: SQLCompiler, **kw: Any) -> str:
    return f"SLEEP({compiler.process(element.clauses, **kw)})"


HOLD = select(ServerSleep(bindparam("seconds", type_=Float)))
