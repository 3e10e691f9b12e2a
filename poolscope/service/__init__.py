"""The sample FastAPI service: the right way to use a pool, and the classic wrong ways.

``create_app(settings)`` builds it; ``poolscope serve`` runs it with uvicorn.
"""

from __future__ import annotations

from poolscope.service._app import create_app, create_app_from_environment
from poolscope.service._serve import serve
from poolscope.service._settings import ServiceSettings, settings_from

__all__ = [
    "ServiceSettings",
    "create_app",
    "create_app_from_environment",
    "serve",
    "settings_from",
]
