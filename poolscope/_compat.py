"""The SQLAlchemy versions poolscope supports, checked as poolscope is imported.

poolscope takes over private methods of SQLAlchemy's pool, and its modules use SQLAlchemy
2.0's API from their first line: on another version it would fail in some obscure way or,
worse, measure wrongly. So ``import poolscope`` refuses one, naming the supported range
(the one ``pyproject.toml`` declares and CI proves, see ``noxfile.py``).
"""

from __future__ import annotations

import re

import sqlalchemy

from poolscope._errors import PoolscopeError

__all__ = ["SUPPORTED_SQLALCHEMY", "check_sqlalchemy"]

SUPPORTED_SQLALCHEMY = ">=2.0.50,<2.2"
_LOWEST = (2, 0, 50)
_ABOVE = (2, 2)
_RELEASE = re.compile(r"(\d+)\.(\d+)(?:\.(\d+))?")


def check_sqlalchemy(version: str) -> None:
    """Raise :class:`PoolscopeError` unless SQLAlchemy ``version`` is supported."""
    match = _RELEASE.match(version)
    if match is not None:
        major, minor, patch = (int(part or 0) for part in match.groups())
        if (major, minor, patch) >= _LOWEST and (major, minor) < _ABOVE:
            return
    raise PoolscopeError(
        f"poolscope supports SQLAlchemy {SUPPORTED_SQLALCHEMY} (2.0.50 and later 2.0 "
        f"releases, and 2.1); this environment has SQLAlchemy {version}: "
        f"pip install 'sqlalchemy{SUPPORTED_SQLALCHEMY}'"
    )


check_sqlalchemy(sqlalchemy.__version__)
