"""Engine construction. Nothing is built at import time; the app's lifespan owns the engine."""

from __future__ import annotations

from sqlalchemy import Engine, create_engine
from sqlalchemy.ext.asyncio import AsyncEngine, create_async_engine

from app.config import Settings


def async_url(url: str) -> str:
    for prefix in ("postgresql://", "postgres://", "postgresql+psycopg2://"):
        if url.startswith(prefix):
            return "postgresql+psycopg://" + url[len(prefix) :]
    return url


def connect_args(settings: Settings | None = None) -> dict:
    """psycopg connection options every pooled connection gets.

    ``prepare_threshold=None``: no server-side prepared statements. psycopg prepares a query
    after 5 executions on a connection (names ``_pg3_0``, ``_pg3_1`` …); behind PgBouncer in
    transaction mode the next transaction may land on another server connection, where the name
    is unknown or already taken (``DuplicatePreparedStatement``). Off by default so the app is
    safe behind any pooler; ``DB_PREPARE_THRESHOLD=5`` turns them back on for direct connections.
    """
    threshold = settings.db_prepare_threshold if settings is not None else None
    return {"prepare_threshold": threshold}


def make_async_engine(settings: Settings, url: str | None = None, **kw) -> AsyncEngine:
    opts = dict(
        pool_size=settings.db_pool_size,
        max_overflow=settings.db_max_overflow,
        pool_recycle=settings.db_pool_recycle_s,
        pool_pre_ping=False,
        connect_args=connect_args(settings),
    )
    opts.update(kw)
    return create_async_engine(async_url(url or settings.database_url), **opts)


def make_sync_engine(url: str, **kw) -> Engine:
    """Sync engine for Alembic and the fleet migrator (threads, one connection each)."""
    kw.setdefault("connect_args", connect_args())
    return create_engine(async_url(url), **kw)
