"""Reading a target's answer within a size and a time: a ``/metrics`` or ``/pool`` that
trickles, never ends or runs to gigabytes is cut off, and said so, instead of holding a
run (an HTTP read timeout only fires while no byte at all arrives)."""

from __future__ import annotations

import time
from collections.abc import Iterable

import httpx

from poolscope._errors import PoolscopeError

__all__ = [
    "MAX_METRICS_BYTES",
    "MAX_POOL_BYTES",
    "SCRAPE_SECONDS",
    "ScrapeError",
    "get_bounded",
    "read_within",
]

# A service's whole exposition with poolscope's fine histograms is some hundred KB; a
# target far beyond is parsed for seconds per scrape and starves the run it measures.
MAX_METRICS_BYTES = 8 * 1024 * 1024
MAX_POOL_BYTES = 1024 * 1024
SCRAPE_SECONDS = 5.0  # the whole answer, headers to last byte


class ScrapeError(PoolscopeError):
    """A target's answer that could not be read: too slow, too large, not 200, broken."""


def read_within(chunks: Iterable[bytes], *, url: str, limit: int, deadline: float) -> bytes:
    """The chunks joined, or a :class:`ScrapeError` once they pass ``limit`` bytes or the
    clock passes ``deadline`` (``time.monotonic()``)."""
    parts: list[bytes] = []
    size = 0
    for chunk in chunks:
        size += len(chunk)
        if size > limit:
            raise ScrapeError(
                f"{url} answered more than {limit // 1024:,} KB; stopped reading (docs/limits.md)"
            )
        parts.append(chunk)
        if time.monotonic() > deadline:
            raise ScrapeError(
                f"{url} took longer than the deadline to answer ({size:,} bytes so far); "
                "stopped reading (docs/limits.md)"
            )
    return b"".join(parts)


def get_bounded(
    client: httpx.Client, url: str, *, limit: int, seconds: float = SCRAPE_SECONDS
) -> tuple[int, bytes]:
    """``GET url``: its status and body, read within ``limit`` bytes and ``seconds``."""
    deadline = time.monotonic() + seconds
    try:
        with client.stream("GET", url) as response:
            body = read_within(response.iter_bytes(), url=url, limit=limit, deadline=deadline)
            return response.status_code, body
    except httpx.HTTPError as error:
        raise ScrapeError(f"cannot read {url}: {type(error).__name__}: {error}") from None
