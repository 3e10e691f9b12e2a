"""An orders service of one's own, FastAPI + SQLAlchemy ORM, instrumented with poolscope.

Run it (the pool size from POOL_SIZE, default 5):

    DATABASE_URL=postgresql+asyncpg://user:pass@127.0.0.1:5432/db POOL_SIZE=5 \\
        uvicorn app:create_app --factory --app-dir examples/orders --port 8000

Its routes are async and its sessions AsyncSessions: no request holds one of Starlette's
worker threads while it waits for a connection, so the FastAPI ``Depends`` deadlock
(every thread waiting for a connection that a request needs a thread to give back)
cannot happen, whatever the pool size.
"""

from __future__ import annotations

import logging
import os
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from datetime import UTC, datetime
from decimal import Decimal
from typing import Annotated, Any

from fastapi import APIRouter, Depends, FastAPI, HTTPException, Request
from prometheus_client import make_asgi_app
from sqlalchemy import DateTime, Numeric, String, func, select
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker, create_async_engine
from sqlalchemy.orm import DeclarativeBase, Mapped, mapped_column

import poolscope.fastapi  # poolscope

SEED_ORDERS = 1000
REPORT_SECONDS = 0.2  # pg_sleep stands in for the heavy query a real report runs


class Base(DeclarativeBase):
    pass


class Order(Base):
    __tablename__ = "example_orders"

    id: Mapped[int] = mapped_column(primary_key=True)
    customer: Mapped[str] = mapped_column(String(40), index=True)
    total: Mapped[Decimal] = mapped_column(Numeric(10, 2))
    created_at: Mapped[datetime] = mapped_column(DateTime(timezone=True))


async def get_db(request: Request) -> AsyncIterator[AsyncSession]:
    async with request.app.state.sessions() as session:
        yield session


Db = Annotated[AsyncSession, Depends(get_db)]
router = APIRouter()


@router.get("/orders/{order_id}")
async def read_order(order_id: int, db: Db) -> dict[str, Any]:
    order = await db.get(Order, order_id)
    if order is None:
        raise HTTPException(status_code=404, detail="no such order")
    return {"id": order.id, "customer": order.customer, "total": str(order.total)}


@router.get("/customers/{customer}/orders")
async def customer_orders(customer: str, db: Db) -> list[dict[str, Any]]:
    query = select(Order).where(Order.customer == customer).order_by(Order.id).limit(20)
    return [{"id": order.id, "total": str(order.total)} for order in await db.scalars(query)]


@router.get("/reports/revenue")
async def revenue(db: Db) -> dict[str, Any]:
    row = (await db.execute(select(func.sum(Order.total), func.pg_sleep(REPORT_SECONDS)))).one()
    return {"revenue": str(row[0])}


def create_app() -> FastAPI:
    # poolscope logs a leaked connection (WARNING) and its return (INFO) on loggers under
    # "poolscope."; uvicorn sets up its own loggers only, so give them a handler.
    logging.basicConfig(format="%(levelname)s %(name)s: %(message)s")
    logging.getLogger("poolscope").setLevel(logging.INFO)

    pool_size = int(os.environ.get("POOL_SIZE", "5"))
    engine = create_async_engine(
        os.environ["DATABASE_URL"], pool_size=pool_size, max_overflow=0, pool_timeout=30
    )
    sessions = async_sessionmaker(engine, expire_on_commit=False)
    instrumentation = poolscope.instrument(engine, pool="orders", leak_threshold=5)  # poolscope

    @asynccontextmanager
    async def lifespan(app: FastAPI) -> AsyncIterator[None]:
        async with engine.begin() as connection:
            await connection.run_sync(Base.metadata.create_all)
        async with sessions() as session:
            if not await session.scalar(select(func.count()).select_from(Order)):
                now = datetime.now(UTC)
                session.add_all(
                    Order(customer=f"customer-{n % 50}", total=Decimal(n % 97) + 1, created_at=now)
                    for n in range(SEED_ORDERS)
                )
                await session.commit()
        app.state.sessions = sessions
        yield
        instrumentation.close()
        await engine.dispose()

    app = FastAPI(lifespan=lifespan)
    app.include_router(router)
    poolscope.fastapi.instrument_app(app)  # poolscope: route labels
    app.include_router(poolscope.fastapi.pool_router(instrumentation))  # poolscope: GET /pool
    app.mount("/metrics", make_asgi_app())  # Prometheus, with the pool metrics
    return app
