"""Engines a test builds with arguments of its own, each disposed when the test ends."""

from __future__ import annotations

from collections.abc import AsyncIterator, Callable, Iterator
from contextlib import asynccontextmanager, contextmanager

from sqlalchemy import URL, Engine, create_engine
from sqlalchemy.ext.asyncio import AsyncEngine, create_async_engine


@contextmanager
def engines_on(url: URL) -> Iterator[Callable[..., Engine]]:
    """Builds sync engines on ``url`` with the given arguments, all disposed after."""
    engines: list[Engine] = []

    def make(**kwargs: object) -> Engine:
        engine = create_engine(url, **kwargs)  # type: ignore[arg-type]
        engines.append(engine)
        return engine

    try:
        yield make
    finally:
        for engine in engines:
            engine.dispose()


@asynccontextmanager
async def async_engines_on(url: URL) -> AsyncIterator[Callable[..., AsyncEngine]]:
    """Builds async engines on ``url`` with the given arguments, all disposed after."""
    engines: list[AsyncEngine] = []

    def make(**kwargs: object) -> AsyncEngine:
        engine = create_async_engine(url, **kwargs)  # type: ignore[arg-type]
        engines.append(engine)
        return engine

    try:
        yield make
    finally:
        for engine in engines:
            await engine.dispose()
