"""The sessions /antipatterns/leak opens and never closes, kept (and bounded) on purpose."""

from __future__ import annotations

import threading
from typing import Generic, TypeVar

__all__ = ["KeptSessions"]

SessionT = TypeVar("SessionT")


class KeptSessions(Generic[SessionT]):
    """At most ``bound`` sessions, counting those being opened right now.

    Kept referenced so the garbage collector cannot quietly return their connections:
    the leak stays a leak until ``take_all`` hands them over to be closed.
    """

    def __init__(self, bound: int) -> None:
        self.bound = bound
        self._sessions: list[SessionT] = []
        self._reserved = 0
        self._lock = threading.Lock()

    def __len__(self) -> int:
        with self._lock:
            return len(self._sessions)

    def reserve(self) -> bool:
        """Claim a place for a session about to be opened; ``False`` past the bound."""
        with self._lock:
            if len(self._sessions) + self._reserved >= self.bound:
                return False
            self._reserved += 1
            return True

    def keep(self, session: SessionT) -> int:
        """Fill a reserved place; return how many are kept now."""
        with self._lock:
            self._reserved -= 1
            self._sessions.append(session)
            return len(self._sessions)

    def cancel(self) -> None:
        """Give back a reserved place whose session could not be opened."""
        with self._lock:
            self._reserved -= 1

    def take_all(self) -> list[SessionT]:
        with self._lock:
            sessions, self._sessions = self._sessions, []
            return sessions
