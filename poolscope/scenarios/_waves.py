"""Waves: every user of a scenario fires at the same instant, then waits for the next wave.

Aligned on the test's start, so each wave hits the pool as one burst and its outcome
(who waited, how much overflow) can be counted per wave.
"""

from __future__ import annotations

import math
import time
from typing import Any

from locust import FastHttpUser, events

FIRST_WAVE_AFTER_SECONDS = 1.0  # lets every user spawn before the first wave
_origin = [time.time()]


@events.test_start.add_listener
def _mark_origin(**_kwargs: Any) -> None:
    _origin[0] = time.time() + FIRST_WAVE_AFTER_SECONDS


def until_next_wave(period: float) -> float:
    """Seconds from now to the next wave (0 when one starts now)."""
    elapsed = time.time() - _origin[0]
    if elapsed <= 0:
        return -elapsed
    return math.ceil(elapsed / period) * period - elapsed


class WaveUser(FastHttpUser):
    """Runs its task once per wave of ``wave_seconds``, in step with every other user."""

    abstract = True
    wave_seconds = 3.0

    def wait_time(self) -> float:
        return until_next_wave(self.wave_seconds)

    def on_start(self) -> None:
        time.sleep(until_next_wave(self.wave_seconds))
