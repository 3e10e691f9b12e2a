"""Which PostgreSQL the tool talks to: the user's, or a real embedded server on loopback."""

from __future__ import annotations

from poolscope.postgres._embedded import EmbeddedPostgres, EmbeddedPostgresError, ServerStatus
from poolscope.postgres._ports import free_port
from poolscope.postgres._resolve import DATABASE_URL_ENV, resolve_database_url

__all__ = [
    "DATABASE_URL_ENV",
    "EmbeddedPostgres",
    "EmbeddedPostgresError",
    "ServerStatus",
    "free_port",
    "resolve_database_url",
]
