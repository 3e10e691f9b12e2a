"""The base of every error poolscope raises on purpose; the CLI prints these as one line."""

from __future__ import annotations

__all__ = ["PoolscopeError", "UsageError"]


class PoolscopeError(Exception):
    """An error meant for the user: its message is complete and holds no secret."""


class UsageError(PoolscopeError):
    """An argument out of its range or unreadable, refused before anything starts: the
    command exits 2, the code for bad input (1 is a run or a check that failed)."""
