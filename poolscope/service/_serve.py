"""Running the service with uvicorn: database first, then one or several workers."""

from __future__ import annotations

import copy
import logging
import os
import shutil
import signal
import socket
import sys
import tempfile
from collections.abc import Iterator
from contextlib import contextmanager
from typing import Any

import uvicorn
from pydantic import SecretStr
from sqlalchemy import create_engine
from sqlalchemy.exc import DBAPIError
from sqlalchemy.pool import NullPool
from uvicorn.config import LOGGING_CONFIG
from uvicorn.supervisors import Multiprocess

from poolscope._errors import PoolscopeError
from poolscope._redact import redact
from poolscope._urls import admin_driver, mask_url, url_for_driver, url_secrets
from poolscope.exporters import MULTIPROC_DIR_ENV
from poolscope.postgres import EmbeddedPostgres, resolve_database_url
from poolscope.service._app import create_app
from poolscope.service._db import database_url, ensure_seeded
from poolscope.service._service_state import SHUTDOWN_GRACE_SECONDS
from poolscope.service._settings import ServiceSettings

__all__ = ["serve"]

logger = logging.getLogger("poolscope.service")

APP_FACTORY = "poolscope.service:create_app_from_environment"
CONNECT_TIMEOUT_SECONDS = 10
# uvicorn cancels what still runs after this: the app answers and ends its requests in
# flight (a /hold may last 30 s) after its own grace period, within this.
GRACEFUL_SHUTDOWN_SECONDS = SHUTDOWN_GRACE_SECONDS + 3
LOG_LEVELS = ("critical", "error", "warning", "info", "debug", "trace")


def serve(
    settings: ServiceSettings,
    *,
    ephemeral_db: bool = False,
    access_log: bool = False,
    log_level: str = "info",
) -> None:
    """Serve until interrupted. Raises :class:`PoolscopeError` (one line) when it cannot start.

    Without a database URL the embedded PostgreSQL is used; it stays running afterwards
    unless ``ephemeral_db`` and this call started it.
    """
    if log_level.lower() not in LOG_LEVELS:
        raise PoolscopeError(
            f"unknown log level {log_level!r}; choose one of {', '.join(LOG_LEVELS)}"
        )
    with _database(settings, ephemeral_db=ephemeral_db) as settings:
        _check_database(settings)
        config_arguments: dict[str, Any] = {
            "host": settings.host,
            "port": settings.port,
            "lifespan": "on",
            "access_log": access_log,
            "log_level": log_level,
            "log_config": _log_config(log_level),
            "timeout_graceful_shutdown": GRACEFUL_SHUTDOWN_SECONDS,
        }
        if settings.workers == 1:
            # One process: its own registry serves /metrics.
            os.environ.pop(MULTIPROC_DIR_ENV, None)
            config = uvicorn.Config(create_app(settings), **config_arguments)
            server = uvicorn.Server(config)
            sock = _bind(settings)
            _announce(settings, sock)
            # uvicorn shuts down gracefully on SIGTERM, then raises the signal again to die
            # by it; a requested stop after a clean shutdown is a success (exit 0).
            previous = signal.signal(signal.SIGTERM, _exit_cleanly)
            try:
                server.run(sockets=[sock])
            finally:
                signal.signal(signal.SIGTERM, previous)
            if not server.started:
                raise PoolscopeError("the service failed to start; see the log above")
            return
        with _multiprocess_metrics_dir():
            # Workers are fresh processes: they rebuild the settings from these variables.
            os.environ.update(settings.to_environment())
            config = uvicorn.Config(
                APP_FACTORY, factory=True, workers=settings.workers, **config_arguments
            )
            sock = _bind(settings)
            _announce(settings, sock)
            Multiprocess(config, sockets=[sock]).run()


def _exit_cleanly(signal_number: int, frame: object) -> None:
    raise SystemExit(0)


@contextmanager
def _database(settings: ServiceSettings, *, ephemeral_db: bool) -> Iterator[ServiceSettings]:
    if settings.database_url is not None:
        yield settings
        return
    embedded = EmbeddedPostgres()
    started_here = not embedded.status().running
    url = resolve_database_url()
    try:
        yield settings.model_copy(update={"database_url": SecretStr(url)})
    finally:
        if ephemeral_db and started_here:
            embedded.stop()
            print("poolscope: embedded PostgreSQL stopped (--ephemeral-db)", flush=True)


def _check_database(settings: ServiceSettings) -> None:
    """Fail fast, in one line, when the database cannot be reached; seed it once for all
    workers."""
    url = database_url(settings)
    engine = create_engine(
        url_for_driver(url, admin_driver(url)),
        poolclass=NullPool,
        connect_args={"connect_timeout": CONNECT_TIMEOUT_SECONDS},
    )
    try:
        with engine.connect() as connection:
            ensure_seeded(connection)
    except DBAPIError as error:
        raise PoolscopeError(
            f"cannot use the database at {mask_url(url)}: {_first_line(error, url)}"
        ) from None
    finally:
        engine.dispose()


def _first_line(error: DBAPIError, url: str) -> str:
    message = str(error.orig or error).strip().splitlines()
    line = message[0] if message else type(error.orig or error).__name__
    # libpq and MySQL do not echo passwords, but nothing poolscope prints may ever hold one.
    return redact(line, url_secrets(url))


@contextmanager
def _multiprocess_metrics_dir() -> Iterator[None]:
    directory = tempfile.mkdtemp(prefix="poolscope-metrics-")
    previous = os.environ.get(MULTIPROC_DIR_ENV)
    os.environ[MULTIPROC_DIR_ENV] = directory
    try:
        yield
    finally:
        if previous is None:
            os.environ.pop(MULTIPROC_DIR_ENV, None)
        else:
            os.environ[MULTIPROC_DIR_ENV] = previous
        shutil.rmtree(directory, ignore_errors=True)


def _log_config(log_level: str) -> dict[str, Any]:
    """uvicorn's logging, with poolscope's own loggers on the same handler and level."""
    config = copy.deepcopy(LOGGING_CONFIG)
    # uvicorn's "trace" is below debug; poolscope has nothing finer than debug.
    level = "DEBUG" if log_level.lower() == "trace" else log_level.upper()
    config["loggers"]["poolscope"] = {"handlers": ["default"], "level": level, "propagate": False}
    return config


def _bind(settings: ServiceSettings) -> socket.socket:
    """The listening socket, bound here so that a taken port is a one-line error."""
    family = socket.AF_INET6 if ":" in settings.host else socket.AF_INET
    sock = socket.socket(family=family)
    sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
    try:
        sock.bind((settings.host, settings.port))
    except OSError as error:
        sock.close()
        raise PoolscopeError(
            f"cannot listen on {settings.host}:{settings.port}: {error.strerror or error}"
        ) from None
    # uvicorn's workers are started with it.
    sock.set_inheritable(True)
    return sock


def _announce(settings: ServiceSettings, sock: socket.socket) -> None:
    host, port = sock.getsockname()[:2]
    workers = f"{settings.workers} worker{'s' if settings.workers > 1 else ''}"
    print(
        f"poolscope: service listening on http://{host}:{port} "
        f"(driver {settings.driver}, pool size {settings.pool_size}, "
        f"overflow {settings.max_overflow}, timeout {settings.pool_timeout:g} s, {workers}, "
        f"database {settings.masked_database_url})",
        file=sys.stdout,
        flush=True,
    )
