"""What happens to a request whose client leaves, or that shutdown cuts off.

:class:`RequestGuard` runs each request's handler as a task of its own and watches the
client meanwhile. When the client disconnects, or when shutdown's grace period ends, the
request is *abandoned*: an async handler is cancelled (it gives its connection back at
once); a sync handler, which runs in a worker thread and cannot be cancelled, has its
query cancelled by the database and never checks out a connection again (see
:class:`RequestHold`). A client still connected when the grace ends gets a JSON 503.
"""

from __future__ import annotations

import asyncio
import contextlib
import json
import logging
import signal
import threading
from collections.abc import Callable
from contextvars import ContextVar
from types import FrameType
from typing import Any

from anyio import CapacityLimiter, to_thread
from starlette.types import ASGIApp, Message, Receive, Scope, Send

__all__ = ["ClientGone", "RequestGuard", "RequestHold", "Stopping", "current_work", "work_of"]

logger = logging.getLogger("poolscope.service")

WORK_KEY = "poolscope.work"
# How long a shut-down request may take to end once abandoned, before the guard answers
# and leaves it to the lifespan's shutdown (which cancels its query).
ABANDON_WAIT_SECONDS = 1.0
SHUTDOWN_BODY = json.dumps(
    {"error": "shutting_down", "message": "the service is shutting down; retry elsewhere"}
).encode()


class ClientGone(Exception):
    """The request was abandoned (client gone, or shutdown): its work must not go on."""


class RequestHold:
    """One request's hold on the database, as far as abandoning it needs to know.

    Sync handlers register the DBAPI connection they run on (:meth:`running`) and forget
    it before giving it back (:meth:`finished`); :meth:`abandon` cancels the query on the
    connection registered then. One lock orders the two, so a cancel never reaches a
    connection another request has checked out since.
    """

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self._gone = False
        self._connections: list[Any] = []

    @property
    def gone(self) -> bool:
        return self._gone

    @property
    def running_queries(self) -> bool:
        """Whether :meth:`abandon` has a query to cancel (a network round trip)."""
        return bool(self._connections)

    def running(self, dbapi_connection: Any) -> None:
        """About to use ``dbapi_connection``; raises :class:`ClientGone` if abandoned."""
        with self._lock:
            if self._gone:
                raise ClientGone
            self._connections.append(dbapi_connection)

    def finished(self) -> None:
        with self._lock:
            self._connections.clear()

    def abandon(self) -> None:
        """Blocking (a cancel request is a round trip): call it from a worker thread."""
        with self._lock:
            self._gone = True
            for dbapi_connection in self._connections:
                cancel = getattr(dbapi_connection, "cancel", None)
                if cancel is None:
                    continue
                try:
                    cancel()
                except Exception as error:  # the connection may be dead already
                    logger.debug("could not cancel an abandoned query: %r", error)


current_work: ContextVar[RequestHold | None] = ContextVar("poolscope_work", default=None)


def work_of(scope: Scope) -> RequestHold | None:
    work = scope.get(WORK_KEY)
    return work if isinstance(work, RequestHold) else None


class Stopping:
    """Set when the process is asked to stop (SIGTERM, SIGINT); the guard then gives the
    requests in flight ``grace`` seconds before it abandons them."""

    def __init__(self, grace: float) -> None:
        self.grace = grace
        self._event: asyncio.Event | None = None
        self._loop: asyncio.AbstractEventLoop | None = None
        self._restore: dict[int, Any] = {}

    def event(self) -> asyncio.Event:
        if self._event is None:
            self._event = asyncio.Event()
            self._loop = asyncio.get_running_loop()
        return self._event

    def begin(self) -> None:
        """Thread- and signal-safe."""
        event, loop = self.event(), self._loop
        assert loop is not None
        with contextlib.suppress(RuntimeError):  # the loop closed already
            loop.call_soon_threadsafe(event.set)

    def watch_signals(self) -> None:
        """Chain in front of the signal handlers uvicorn installed (main thread only: an
        in-process test client runs the app elsewhere and sends no signals)."""
        self.event()
        if threading.current_thread() is not threading.main_thread():
            return
        for number in (signal.SIGTERM, signal.SIGINT):
            previous = signal.getsignal(number)
            self._restore[number] = previous
            signal.signal(number, self._chained(previous))

    def unwatch_signals(self) -> None:
        for number, previous in self._restore.items():
            signal.signal(number, previous)
        self._restore.clear()

    def _chained(self, previous: Any) -> Callable[[int, FrameType | None], None]:
        def handler(number: int, frame: FrameType | None) -> None:
            self.begin()
            if callable(previous):
                previous(number, frame)

        return handler


class RequestGuard:
    """ASGI middleware: abandons a request whose client left or that shutdown cut off.

    ``cancel_tasks``: the handlers are ``async def`` (cancelling their task stops them);
    sync handlers are never cancelled (their worker thread would go on with a session the
    cancellation closes) and are stopped through their :class:`RequestHold` instead.
    """

    def __init__(
        self,
        app: ASGIApp,
        *,
        stopping: Stopping,
        cancel_tasks: Callable[[], bool],
        stragglers: set[asyncio.Task[None]],
    ) -> None:
        self.app = app
        self.stopping = stopping
        self.cancel_tasks = cancel_tasks
        self.stragglers = stragglers
        self._limiter = CapacityLimiter(4)

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        # The body first (the service's routes take none but a small one): whatever
        # arrives after it can only say the client left.
        body: list[Message] = []
        while True:
            message = await receive()
            if message["type"] == "http.disconnect":
                return
            body.append(message)
            if not message.get("more_body", False):
                break
        request = _GuardedRequest(scope, body, send)
        # The handler's task (and the worker thread of a sync route) sees its RequestHold.
        token = current_work.set(request.work)
        try:
            handler = asyncio.ensure_future(self.app(request.scope, request.receive, request.send))
        finally:
            current_work.reset(token)
        client_left = asyncio.ensure_future(receive())
        stopping = asyncio.ensure_future(self._grace_over())
        try:
            await asyncio.wait(
                {handler, client_left, stopping}, return_when=asyncio.FIRST_COMPLETED
            )
        except asyncio.CancelledError:
            handler.cancel()
            raise
        finally:
            for watcher in (client_left, stopping):
                watcher.cancel()
        if handler.done() or request.response_complete:
            # Answered: what is left (a dependency's exit) runs to its end.
            request.left.set()
            await handler  # its own exception goes to the server error handler
            return
        if client_left.done() and not client_left.cancelled():
            # No one to answer: the handler ends on its own (soon, once abandoned), and
            # shutdown waits for it, or cancels it, like any other straggler.
            await self._abandon(handler, request)
            self._leave(handler)
            return
        # Shutdown's grace is over: answer if the handler has not, then stop its work.
        await request.answer_shutting_down()
        await self._abandon(handler, request)
        await asyncio.wait({handler}, timeout=ABANDON_WAIT_SECONDS)
        # If it still runs, the lifespan's shutdown cancels its query and waits for it.
        self._leave(handler)

    def _leave(self, handler: asyncio.Task[None]) -> None:
        if not handler.done():
            self.stragglers.add(handler)
            handler.add_done_callback(self.stragglers.discard)
        handler.add_done_callback(_quiet)

    async def _grace_over(self) -> None:
        await self.stopping.event().wait()
        await asyncio.sleep(self.stopping.grace)

    async def _abandon(self, handler: asyncio.Task[None], request: _GuardedRequest) -> None:
        request.left.set()
        if request.work.running_queries:
            # Threads of its own: the default ones may all be taken by the handlers to stop.
            await to_thread.run_sync(request.work.abandon, limiter=self._limiter)
        else:
            request.work.abandon()
        if self.cancel_tasks():
            handler.cancel()


def _quiet(task: asyncio.Future[None]) -> None:
    # An abandoned handler's end, whatever it is, has no one to tell.
    if not task.cancelled():
        task.exception()


class _GuardedRequest:
    def __init__(self, scope: Scope, body: list[Message], send: Send) -> None:
        self.work = RequestHold()
        self.scope = {**scope, WORK_KEY: self.work}
        self._body = body
        self._send = send
        self.left = asyncio.Event()
        self.response_started = False
        self.response_complete = False
        self.answered = False

    async def receive(self) -> Message:
        if self._body:
            return self._body.pop(0)
        await self.left.wait()
        return {"type": "http.disconnect"}

    async def send(self, message: Message) -> None:
        if self.answered:
            return
        if message["type"] == "http.response.start":
            self.response_started = True
        elif message["type"] == "http.response.body" and not message.get("more_body", False):
            self.response_complete = True
        await self._send(message)

    async def answer_shutting_down(self) -> None:
        if self.response_started:
            return
        self.answered = True
        await self._send(
            {
                "type": "http.response.start",
                "status": 503,
                "headers": [
                    (b"content-type", b"application/json"),
                    (b"content-length", str(len(SHUTDOWN_BODY)).encode()),
                    (b"connection", b"close"),
                    (b"retry-after", b"1"),
                ],
            }
        )
        await self._send({"type": "http.response.body", "body": SHUTDOWN_BODY})
