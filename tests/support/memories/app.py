"""A service of one's own (not poolscope's sample service) with the commonest cause of a
full pool: ``POST /memories`` keeps its request's session, opened by ``Depends(get_db)``,
through a slow outside call (an LLM, here its own ``GET /llm``, over real HTTP);
``GET /memories/{memory_id}`` only queries.

    DATABASE_URL=postgresql+asyncpg://... POOL_SIZE=4 \\
        uvicorn app:create_app --factory --app-dir tests/support/memories --port 8000
"""

from __future__ import annotations

import asyncio
import os
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from typing import Annotated, Any

import httpx
from fastapi import Depends, FastAPI, Request
from prometheus_client import make_asgi_app
from sqlalchemy import text
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker, create_async_engine

import poolscope.fastapi

LLM_SECONDS = 0.3
QUERY_SECONDS = 0.02  # pg_sleep stands in for a real query's work


async def get_db(request: Request) -> AsyncIterator[AsyncSession]:
    async with request.app.state.sessions() as session:
        yield session


Db = Annotated[AsyncSession, Depends(get_db)]


def create_app() -> FastAPI:
    engine = create_async_engine(
        os.environ["DATABASE_URL"], pool_size=int(os.environ.get("POOL_SIZE", "4")), max_overflow=0
    )
    instrumentation = poolscope.instrument(engine, pool="memories")

    @asynccontextmanager
    async def lifespan(app: FastAPI) -> AsyncIterator[None]:
        app.state.sessions = async_sessionmaker(engine)
        async with httpx.AsyncClient(timeout=30) as client:
            app.state.client = client
            yield
        instrumentation.close()
        await engine.dispose()

    app = FastAPI(lifespan=lifespan)

    @app.post("/memories")
    async def create_memory(request: Request, db: Db) -> dict[str, Any]:
        known = (await db.execute(text("select count(*) from pg_class"))).scalar_one()
        # The session, and its connection, stay open across the call: the anti-pattern.
        answer = await request.app.state.client.get(
            f"{request.base_url}llm", params={"seconds": LLM_SECONDS}
        )
        return {"known": known, "llm": answer.json()}

    @app.get("/memories/{memory_id}")
    async def read_memory(memory_id: int, db: Db) -> dict[str, Any]:
        await db.execute(text("select pg_sleep(:seconds)"), {"seconds": QUERY_SECONDS})
        return {"id": memory_id}

    @app.get("/llm")
    async def llm(seconds: float) -> dict[str, Any]:
        await asyncio.sleep(seconds)
        return {"thought": seconds}

    poolscope.fastapi.instrument_app(app)
    app.include_router(poolscope.fastapi.pool_router(instrumentation))
    app.mount("/metrics", make_asgi_app())
    return app
