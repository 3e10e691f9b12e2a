"""The one private name of Starlette poolscope uses: ``get_route_path``, the request's path
below the app's ``root_path``, as Starlette's router matches it (a mount or a proxy's
prefix left out). Reached here only, so a Starlette that moves it breaks one import, and
``tests/core/test_layers.py`` allows this module alone to import it."""

from __future__ import annotations

from starlette._utils import get_route_path

__all__ = ["get_route_path"]
