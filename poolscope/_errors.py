"""The base of every error poolscope raises on purpose; the CLI prints these as one line."""

from __future__ import annotations

__all__ = ["PoolscopeError"]


class PoolscopeError(Exception):
    """An error meant for the user: its message is complete and holds no secret."""
