"""What a client gets when a handler fails: a JSON 503, under a real uvicorn server."""

from __future__ import annotations

import socket
import threading
import time
from collections.abc import Iterator

import asyncpg  # type: ignore[import-untyped]
import httpx
import pytest
import uvicorn
from fastapi import FastAPI

from poolscope.service import ServiceSettings
from poolscope.service._error_handlers import ErrorLog, install_error_handlers


def failing_app() -> FastAPI:
    app = FastAPI()
    install_error_handlers(app, ServiceSettings(), ErrorLog())

    @app.get("/ok")
    async def ok() -> dict[str, bool]:
        return {"ok": True}

    @app.get("/bug")
    async def bug() -> None:
        raise RuntimeError("a bug")

    @app.get("/connect-cut")
    async def connect_cut() -> None:
        # What asyncpg raises, unwrapped by SQLAlchemy, when the backend of a connection
        # still being set up is terminated.
        raise asyncpg.InternalClientError("cannot switch to state 12")

    return app


@pytest.fixture
def base_url() -> Iterator[str]:
    sock = socket.socket()
    sock.bind(("127.0.0.1", 0))
    server = uvicorn.Server(uvicorn.Config(failing_app(), log_level="critical"))
    thread = threading.Thread(target=server.run, kwargs={"sockets": [sock]}, daemon=True)
    thread.start()
    deadline = time.monotonic() + 10
    while not server.started:
        assert time.monotonic() < deadline, "uvicorn did not start"
        time.sleep(0.02)
    try:
        yield f"http://127.0.0.1:{sock.getsockname()[1]}"
    finally:
        server.should_exit = True
        thread.join(timeout=10)
        sock.close()


def test_a_bug_is_a_json_503_that_tells_the_client_to_reconnect(base_url: str) -> None:
    with httpx.Client(base_url=base_url, timeout=10) as client:
        response = client.get("/bug")
        assert response.status_code == 503
        assert response.json() == {
            "error": "unexpected_error",
            "message": "the service failed: RuntimeError",
        }
        # The server closes this connection after the answer: a keep-alive client that
        # sent its next request on it would get a reset instead of an answer.
        assert response.headers["connection"] == "close"
        assert client.get("/ok").status_code == 200


def test_a_new_connection_cut_while_set_up_is_a_database_error(base_url: str) -> None:
    with httpx.Client(base_url=base_url, timeout=10) as client:
        response = client.get("/connect-cut")
        assert response.status_code == 503
        assert response.json()["error"] == "database_error"
        assert response.json()["message"] == "the database failed: InternalClientError"
        assert "close" not in response.headers.get("connection", "")
