"""Two declarative bases: one for the shared `public` schema, one for every tenant schema.

Tenant tables are declared in the placeholder schema ``tenant``; a session bound to a tenant
translates it to ``tenant_<slug>`` at execution time (see ``app.db.tenancy``). A session that
was not bound fails loudly (schema "tenant" does not exist) instead of falling back to public.
"""

from __future__ import annotations

from datetime import datetime

from sqlalchemy import DateTime, MetaData, func
from sqlalchemy.orm import DeclarativeBase, Mapped, mapped_column

TENANT_SCHEMA = "tenant"
PUBLIC_SCHEMA = "public"

NAMING = {
    "ix": "ix_%(table_name)s_%(column_0_N_name)s",
    "uq": "uq_%(table_name)s_%(column_0_N_name)s",
    "ck": "ck_%(table_name)s_%(constraint_name)s",
    "fk": "fk_%(table_name)s_%(column_0_name)s_%(referred_table_name)s",
    "pk": "pk_%(table_name)s",
}


class PublicBase(DeclarativeBase):
    metadata = MetaData(schema=PUBLIC_SCHEMA, naming_convention=NAMING)


class TenantBase(DeclarativeBase):
    metadata = MetaData(schema=TENANT_SCHEMA, naming_convention=NAMING)


def utcnow_column(**kw) -> Mapped[datetime]:
    return mapped_column(DateTime(timezone=True), server_default=func.now(), **kw)
