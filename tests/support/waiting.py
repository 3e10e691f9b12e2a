"""Polling for a state instead of sleeping a fixed time and hoping it came."""

from __future__ import annotations

import asyncio
import time
from collections.abc import Awaitable, Callable


def wait_until(condition: Callable[[], bool], timeout: float, interval: float = 0.05) -> float:
    """Seconds until ``condition()`` held; fails after ``timeout``."""
    started = time.monotonic()
    while not condition():
        if time.monotonic() - started > timeout:
            raise AssertionError(f"not true within {timeout} s")
        time.sleep(interval)
    return time.monotonic() - started


async def wait_until_async(
    condition: Callable[[], Awaitable[bool]], timeout: float, interval: float = 0.02
) -> float:
    """Seconds until ``await condition()`` held; fails after ``timeout``."""
    started = time.monotonic()
    while not await condition():
        if time.monotonic() - started > timeout:
            raise AssertionError(f"not true within {timeout} s")
        await asyncio.sleep(interval)
    return time.monotonic() - started
