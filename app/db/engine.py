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


def make_async_engine(settings: Settings, url: str | None = None, **kw) -> AsyncEngine:
    opts = dict(
        pool_size=settings.db_pool_size,
        max_overflow=settings.db_max_overflow,
        pool_recycle=settings.db_pool_recycle_s,
        pool_pre_ping=False,
    )
    opts.update(kw)
    return create_async_engine(async_url(url or settings.database_url), **opts)


def make_sync_engine(url: str, **kw) -> Engine:
    """Sync engine for Alembic and the fleet migrator (threads, one connection each)."""
    return create_engine(async_url(url), **kw)
