"""A free TCP port on 127.0.0.1, for the embedded server, the sample service and Locust."""

from __future__ import annotations

import socket

__all__ = ["free_port"]


def free_port(preferred: int | None = None) -> int:
    """A TCP port free on 127.0.0.1 right now: ``preferred`` when it is free, else any."""
    if preferred is not None:
        with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as sock:
            # As servers bind (PostgreSQL, uvicorn): a port whose last connections sit in
            # TIME_WAIT after a stop is free to them, and keeping it keeps clients' URLs.
            sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
            try:
                sock.bind(("127.0.0.1", preferred))
            except OSError:
                pass
            else:
                return preferred
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as sock:
        sock.bind(("127.0.0.1", 0))
        port: int = sock.getsockname()[1]
        return port
