"""Eleven holders of ten connections: when each asked for one, got it and ended its
statement, and what that says about the eleventh's wait."""

from __future__ import annotations

import time
from typing import NamedTuple


class Hold(NamedTuple):
    asked: float
    got: float
    ended: float  # the statement's end, after which the holder gives the connection back

    @property
    def wait(self) -> float:
        return self.got - self.asked


class Holds(list[Hold]):
    def add(self, asked: float, got: float) -> None:
        """One holder's hold, its statement just ended."""
        self.append(Hold(asked, got, time.perf_counter()))


def assert_the_eleventh_waited_for_a_release(holds: Holds, hold_seconds: float) -> list[float]:
    """Ten holders got a connection at once; the eleventh got one when the first of them
    gave one back: not before that statement ended, and long before another hold could
    pass. Measured from that release, not from a common start: a holder's thread or task
    can start late on a busy machine. Returns the eleven waits, shortest first."""
    holds.sort(key=lambda hold: hold.wait)
    waits = [hold.wait for hold in holds]
    assert len(holds) == 11, waits
    assert all(wait < 0.1 for wait in waits[:10]), waits
    first_release = min(hold.ended for hold in holds[:10])
    assert first_release <= holds[10].got <= first_release + 0.5 * hold_seconds, waits
    return waits
