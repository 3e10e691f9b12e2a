"""What poolscope remembers about one checkout, kept in ``connection_record.info``.

One small object per checkout, so every feature that follows a checked-out connection
(use time, leak detection) reads and extends the same place.
"""

from __future__ import annotations

__all__ = ["CHECKOUT_KEY", "Checkout"]

# The key in ``connection_record.info``; SQLAlchemy clears ``info`` when it reconnects.
CHECKOUT_KEY = "poolscope.checkout"


class Checkout:
    """One checkout: when it began (``time.perf_counter()``), for which route, when it ended."""

    __slots__ = ("ended", "route", "started")

    def __init__(self, started: float, route: str) -> None:
        self.started = started
        self.route = route
        self.ended = 0.0

    def __repr__(self) -> str:
        return f"Checkout(started={self.started!r}, route={self.route!r}, ended={self.ended!r})"
