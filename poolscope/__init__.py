"""poolscope: SQLAlchemy connection pools made visible, and proven under load."""

from __future__ import annotations

from poolscope._embedded import EmbeddedPostgres, EmbeddedPostgresError
from poolscope._errors import PoolscopeError
from poolscope._urls import mask_url, url_for_driver

__all__ = [
    "EmbeddedPostgres",
    "EmbeddedPostgresError",
    "PoolscopeError",
    "mask_url",
    "url_for_driver",
]
