"""Looking up a tenant by slug on every request, from a short-lived in-process cache.

The cache is per process and expires after a few seconds, so a suspension reaches every app
process quickly without a registry query on each call intake.

When an entry expires, ONE lookup refreshes it and the requests arriving meanwhile wait for that
one: before, each of them ran its own query on its own pool connection, so every few seconds a
busy process emptied its pool at once and its intake flushes queued behind the lookups (the
paced benchmark's periodic stalls: the pool's high-water mark was its capacity).
"""

from __future__ import annotations

from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncEngine

from app.core.cache import TtlCache
from app.core.tenant import TenantInfo
from app.tenancy.models import Tenant

__all__ = [
    "TenantInfo",
    "TenantRegistry",
    "active_tenants",
    "known_tenant",
    "load_tenant",
    "tenant_info",
]


class TenantRegistry:
    """slug → TenantInfo for every request, cached a few seconds (app.core.cache: one lookup for
    a burst of requests, and a caller that goes away does not cancel it for the others)."""

    def __init__(self, engine: AsyncEngine, ttl_s: float = 5.0):
        self.engine = engine
        self.ttl = ttl_s
        self._cache: TtlCache[TenantInfo | None] = TtlCache(lambda: self.ttl, maxsize=4096)

    async def get(self, slug: str) -> TenantInfo | None:
        return await self._cache.get_or_load(slug, lambda: self._load(slug))

    async def _load(self, slug: str) -> TenantInfo | None:
        async with self.engine.connect() as conn:
            return await load_tenant(conn, slug)

    def forget(self, slug: str) -> None:
        self._cache.forget(slug)  # also a lookup under way: it may predate the change


def tenant_info(m) -> TenantInfo:
    """A registry row (a mapping of public.tenants' columns) as the read-only TenantInfo."""
    return TenantInfo(
        id=m["id"],
        slug=m["slug"],
        name=m["name"],
        region_code=m["region_code"],
        province=m["province"],
        status=m["status"],
        timezone=m["timezone"],
        activated_at=m["activated_at"],
    )


async def load_tenant(connection, slug: str) -> TenantInfo | None:
    """The registry row of ``slug`` read on ``connection`` (an AsyncConnection or AsyncSession):
    for work that starts without a request (jobs, the CLI, a hand-over's other regency)."""
    row = (await connection.execute(select(Tenant.__table__).where(Tenant.slug == slug))).mappings().first()
    return tenant_info(row) if row is not None else None


async def known_tenant(connection, slug: str) -> TenantInfo:
    """``load_tenant`` for work that cannot go on without the tenant: an unknown slug raises."""
    tenant = await load_tenant(connection, slug)
    if tenant is None:
        raise LookupError(f"unknown tenant {slug!r}")
    return tenant


# The tenants the worker's periodic jobs go over (a pending regency takes no real calls yet).
WORKING_STATUSES = ("active", "verified")


async def active_tenants(db) -> list[TenantInfo]:
    """Every active or verified tenant, by slug."""
    async with db.public() as session:
        rows = await session.execute(
            select(Tenant.__table__).where(Tenant.status.in_(WORKING_STATUSES)).order_by(Tenant.slug)
        )
        return [tenant_info(m) for m in rows.mappings()]
