"""The per-process tenant cache: an expired entry is refreshed by ONE lookup, however many wait."""

from __future__ import annotations

import asyncio

from sqlalchemy import event

from app.tenancy.registry import TenantRegistry


async def test_concurrent_misses_share_one_lookup(engine, tenant_a):
    registry = TenantRegistry(engine, ttl_s=60)
    queries: list[str] = []

    def count(conn, cursor, statement, *args):
        if "tenants" in statement:
            queries.append(statement)

    event.listen(engine.sync_engine, "before_cursor_execute", count)
    try:
        found = await asyncio.gather(*(registry.get(tenant_a.slug) for _ in range(20)))
        assert len(queries) == 1  # not one query (and one pool connection) per waiting request
        assert {t.slug for t in found} == {tenant_a.slug}
        await registry.get(tenant_a.slug)
        assert len(queries) == 1  # cached
        registry.forget(tenant_a.slug)
        missing = await asyncio.gather(registry.get(tenant_a.slug), registry.get("no_such_tenant"))
        assert missing[0].slug == tenant_a.slug and missing[1] is None
        assert len(queries) == 3
    finally:
        event.remove(engine.sync_engine, "before_cursor_execute", count)
