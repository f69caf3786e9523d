"""The process-wide database handle: one engine, per-tenant views of it."""
from __future__ import annotations

from sqlalchemy.ext.asyncio import AsyncEngine, AsyncSession

from app.db.tenancy import TenantEngines, tenant_session_factory


class Database:
    def __init__(self, engine: AsyncEngine):
        self.engine = engine
        self.tenants = TenantEngines(engine)

    def tenant(self, slug: str) -> AsyncSession:
        """A session bound to one tenant's schema; use as ``async with db.tenant(slug) as s``."""
        return tenant_session_factory(self.tenants, slug)

    def public(self) -> AsyncSession:
        return AsyncSession(bind=self.engine, expire_on_commit=False)

    async def dispose(self) -> None:
        await self.engine.dispose()
