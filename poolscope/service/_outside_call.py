"""The outside call of the held-idle routes: a real HTTP request to the service's own
``GET /outside``, a slow route that does no database work (as an HTTP API or an LLM
would be, seen from the database: nothing)."""

from __future__ import annotations

import asyncio
import http.client
from urllib.parse import urlsplit

__all__ = ["OUTSIDE_PATH", "call_outside", "call_outside_async"]

OUTSIDE_PATH = "/outside"
# Past the longest outside call a route may ask for (30 s).
_TIMEOUT = 35.0


def _target(base_url: str, seconds: float) -> tuple[str, int, str]:
    parts = urlsplit(base_url)
    return parts.hostname or "127.0.0.1", parts.port or 80, f"{OUTSIDE_PATH}?seconds={seconds}"


def call_outside(base_url: str, seconds: float) -> None:
    """GET ``/outside?seconds=S`` of the service at ``base_url``, blocking this thread; no
    call for 0 s (what a scenario's probe asks: the route is there)."""
    if seconds <= 0:
        return
    host, port, path = _target(base_url, seconds)
    connection = http.client.HTTPConnection(host, port, timeout=_TIMEOUT)
    try:
        connection.request("GET", path)
        response = connection.getresponse()
        response.read()
        if response.status != 200:
            raise RuntimeError(f"outside call answered {response.status}")
    finally:
        connection.close()


async def call_outside_async(base_url: str, seconds: float) -> None:
    """The same, awaited on the event loop."""
    if seconds <= 0:
        return
    host, port, path = _target(base_url, seconds)
    async with asyncio.timeout(_TIMEOUT):
        reader, writer = await asyncio.open_connection(host, port)
        try:
            writer.write(f"GET {path} HTTP/1.0\r\nHost: {host}:{port}\r\n\r\n".encode())
            await writer.drain()
            status_line = await reader.readline()
            await reader.read()
        finally:
            writer.close()
    if b" 200 " not in status_line:
        raise RuntimeError(f"outside call answered {status_line!r}")
