"""Which PostgreSQL poolscope talks to: the one the user named, else the embedded one."""

from __future__ import annotations

import os

from poolscope.postgres._embedded import EmbeddedPostgres

__all__ = ["DATABASE_URL_ENV", "resolve_database_url"]

DATABASE_URL_ENV = "POOLSCOPE_DATABASE_URL"


def resolve_database_url(database_url: str | None = None) -> str:
    """``database_url``, else ``$POOLSCOPE_DATABASE_URL``, else the embedded server (started)."""
    url = database_url or os.environ.get(DATABASE_URL_ENV)
    if url:
        return url
    return EmbeddedPostgres().start()
