"""An app written like FastAPI's full-stack template's backend, with or without poolscope.

What matters here is what the template does that the sample service does not: SQLModel
sessions from a ``yield`` dependency, a lifespan, routers with a prefix and tags under
one ``/api/v1`` router, routes with names of their own, and a
``generate_unique_id_function`` that names each route from its first tag (so a route
without tags makes it raise). poolscope is added as the README's own-service recipe says.
"""

from __future__ import annotations

from collections.abc import AsyncIterator, Iterator
from contextlib import asynccontextmanager
from typing import Annotated, Any

from fastapi import APIRouter, Depends, FastAPI, HTTPException, Request
from fastapi.routing import APIRoute
from prometheus_client import CollectorRegistry, make_asgi_app
from sqlalchemy import Engine
from sqlmodel import Field, Session, SQLModel, col, select

import poolscope
import poolscope.fastapi

API_V1 = "/api/v1"


def custom_generate_unique_id(route: APIRoute) -> str:
    """The template's own: ``IndexError`` on a route without tags."""
    return f"{route.tags[0]}-{route.name}"


class ItemCreate(SQLModel):
    title: str = Field(min_length=1, max_length=255)
    description: str | None = Field(default=None, max_length=255)


class TemplateItem(ItemCreate, table=True):
    __tablename__ = "template_items"

    id: int | None = Field(default=None, primary_key=True)


class ItemsPublic(SQLModel):
    data: list[TemplateItem]
    count: int


def get_db(request: Request) -> Iterator[Session]:
    with Session(request.app.state.engine) as session:
        yield session


SessionDep = Annotated[Session, Depends(get_db)]


def create_app(
    engine: Engine,
    *,
    registry: CollectorRegistry | None = None,
    pool_router_tags: list[str] | None = None,
) -> FastAPI:
    """The app; with a ``registry``, poolscope added by the README's recipe (its
    ``pool_router`` given ``pool_router_tags`` when not None)."""

    @asynccontextmanager
    async def lifespan(app: FastAPI) -> AsyncIterator[None]:
        SQLModel.metadata.drop_all(engine, tables=[TemplateItem.__table__])  # type: ignore[attr-defined]
        SQLModel.metadata.create_all(engine, tables=[TemplateItem.__table__])  # type: ignore[attr-defined]
        yield

    items = APIRouter(prefix="/items", tags=["items"])

    @items.get("/", name="list-items")
    def read_items(session: SessionDep, skip: int = 0, limit: int = 100) -> ItemsPublic:
        found = session.exec(
            select(TemplateItem).order_by(col(TemplateItem.id)).offset(skip).limit(limit)
        ).all()
        return ItemsPublic(data=list(found), count=len(found))

    @items.get("/{id}", name="read-item")
    def read_item(session: SessionDep, id: int) -> TemplateItem:
        item = session.get(TemplateItem, id)
        if item is None:
            raise HTTPException(status_code=404, detail="Item not found")
        return item

    @items.post("/", name="create-item")
    def create_item(session: SessionDep, item_in: ItemCreate) -> TemplateItem:
        item = TemplateItem.model_validate(item_in)
        session.add(item)
        session.commit()
        session.refresh(item)
        return item

    @items.delete("/{id}", name="delete-item")
    def delete_item(session: SessionDep, id: int) -> dict[str, str]:
        item = session.get(TemplateItem, id)
        if item is None:
            raise HTTPException(status_code=404, detail="Item not found")
        session.delete(item)
        session.commit()
        return {"message": "Item deleted successfully"}

    utils = APIRouter(prefix="/utils", tags=["utils"])

    @utils.get("/health-check/")
    async def health_check() -> bool:
        return True

    api_router = APIRouter()
    api_router.include_router(items)
    api_router.include_router(utils)

    app = FastAPI(
        title="template",
        openapi_url=f"{API_V1}/openapi.json",
        generate_unique_id_function=custom_generate_unique_id,
        lifespan=lifespan,
    )
    app.state.engine = engine
    app.include_router(api_router, prefix=API_V1)

    if registry is not None:
        instrumentation = poolscope.instrument(
            engine, pool="template", leak_threshold=5, registry=registry
        )
        app.state.instrumentation = instrumentation  # for the test to close
        poolscope.fastapi.instrument_app(app)
        extra: dict[str, Any] = {} if pool_router_tags is None else {"tags": pool_router_tags}
        app.include_router(poolscope.fastapi.pool_router(instrumentation, **extra))
        app.mount("/metrics", make_asgi_app(registry))
    return app
