"""The only code that knows how a tenant slug becomes a schema, and how a session is bound to it.

Binding is per transaction and carried by the connection's execution options
(``schema_translate_map``), never by session-level ``SET search_path``: nothing survives on a
pooled connection, so it stays correct behind PgBouncer in transaction pooling mode, and the
compiled-statement cache holds one entry per statement, not one per tenant.
"""

from __future__ import annotations

import re
from collections import OrderedDict
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager

from sqlalchemy import Connection, text
from sqlalchemy.ext.asyncio import AsyncEngine, AsyncSession

from app.db.base import TENANT_SCHEMA

SLUG_RE = re.compile(r"^[a-z][a-z0-9_]{1,46}$")
SCHEMA_PREFIX = "tenant_"


class InvalidSlug(ValueError):
    pass


def validate_slug(slug: str) -> str:
    if not SLUG_RE.fullmatch(slug or ""):
        raise InvalidSlug("slug harus huruf kecil, angka atau garis bawah, diawali huruf, 2–47 karakter")
    return slug


def schema_for(slug: str) -> str:
    return SCHEMA_PREFIX + validate_slug(slug)


def slug_for_schema(schema: str) -> str:
    if not schema.startswith(SCHEMA_PREFIX):
        raise InvalidSlug(f"{schema!r} is not a tenant schema")
    return schema[len(SCHEMA_PREFIX) :]


def translate_map(slug: str) -> dict[str, str]:
    return {TENANT_SCHEMA: schema_for(slug)}


# Every tenant schema, and those with their revision table: the one catalog query of the set.
_TENANT_SCHEMA_LIKE = SCHEMA_PREFIX.replace("_", r"\_") + "%"


def tenant_schemas(conn: Connection) -> list[str]:
    """Every tenant schema in the database, in name order."""
    rows = conn.execute(
        text("SELECT nspname FROM pg_namespace WHERE nspname LIKE :p ORDER BY nspname"),
        {"p": _TENANT_SCHEMA_LIKE},
    )
    return [r[0] for r in rows]


def tenant_schemas_with_version_table(conn: Connection) -> list[tuple[str, bool]]:
    """(schema, has an alembic_version table) for every tenant schema, in one round trip."""
    rows = conn.execute(
        text(
            """
            SELECT n.nspname, c.oid IS NOT NULL
            FROM pg_namespace n
            LEFT JOIN pg_class c ON c.relnamespace = n.oid AND c.relname = 'alembic_version'
                                 AND c.relkind = 'r'
            WHERE n.nspname LIKE :p
            """
        ),
        {"p": _TENANT_SCHEMA_LIKE},
    ).all()
    return [(schema, bool(has)) for schema, has in rows]


def bind_search_path(conn: Connection, schema: str) -> None:
    """For DDL and migrations only (hand-written SQL that names no schema): ``search_path`` for
    the current transaction only (``set_config(..., true)``), so nothing is left on a pooled
    connection. Sessions never use it: they carry ``schema_translate_map``."""
    conn.execute(text("SELECT set_config('search_path', :s, true)"), {"s": schema})


class TenantEngines:
    """Per-tenant views of one engine (same pool), kept in a small LRU so binding costs nothing."""

    def __init__(self, engine: AsyncEngine, max_size: int = 1024):
        self.engine = engine
        self._views: OrderedDict[str, AsyncEngine] = OrderedDict()
        self._max = max_size

    def for_tenant(self, slug: str) -> AsyncEngine:
        view = self._views.get(slug)
        if view is None:
            view = self.engine.execution_options(schema_translate_map=translate_map(slug))
            self._views[slug] = view
            if len(self._views) > self._max:
                self._views.popitem(last=False)
        else:
            self._views.move_to_end(slug)
        return view


def tenant_session_factory(engines: TenantEngines, slug: str) -> AsyncSession:
    return AsyncSession(bind=engines.for_tenant(slug), expire_on_commit=False)


@asynccontextmanager
async def tenant_session(engines: TenantEngines, slug: str) -> AsyncIterator[AsyncSession]:
    """A session that can only see ``tenant_<slug>`` (plus the shared public tables)."""
    session = tenant_session_factory(engines, slug)
    try:
        yield session
    finally:
        await session.close()


@asynccontextmanager
async def public_session(engine: AsyncEngine) -> AsyncIterator[AsyncSession]:
    """A session with no tenant bound: any tenant table it touches fails (schema "tenant")."""
    session = AsyncSession(bind=engine, expire_on_commit=False)
    try:
        yield session
    finally:
        await session.close()
