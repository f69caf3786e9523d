"""The audit trail cannot be rewritten through SQL, in tenants and in public."""

from __future__ import annotations

import pytest
from sqlalchemy import delete, insert, select, text, update
from sqlalchemy.exc import DBAPIError

from app.audit.models import AuditLog, PlatformAuditLog
from app.db.migrate import head_revision


async def test_tenant_audit_rows_cannot_be_updated_deleted_or_truncated(db, tenant_factory):
    tenant = await tenant_factory()
    async with db.tenant(tenant.slug) as s:
        row_id = (
            await s.execute(
                insert(AuditLog).values(action="x.test", actor_label="uji").returning(AuditLog.id)
            )
        ).scalar_one()
        await s.commit()
    for stmt in (
        update(AuditLog).where(AuditLog.id == row_id).values(action="x.forged"),
        delete(AuditLog).where(AuditLog.id == row_id),
    ):
        async with db.tenant(tenant.slug) as s:
            with pytest.raises(DBAPIError, match="append-only"):
                await s.execute(stmt)
    async with db.tenant(tenant.slug) as s:
        assert (
            await s.execute(select(AuditLog.action).where(AuditLog.id == row_id))
        ).scalar_one() == "x.test"
    async with db.engine.connect() as conn:
        with pytest.raises(DBAPIError, match="append-only"):
            await conn.execute(text(f'TRUNCATE "tenant_{tenant.slug}".audit_log'))


async def test_platform_audit_rows_are_append_only(db):
    async with db.public() as s:
        row_id = (
            await s.execute(insert(PlatformAuditLog).values(action="x.test").returning(PlatformAuditLog.id))
        ).scalar_one()
        await s.commit()
    async with db.public() as s:
        with pytest.raises(DBAPIError, match="append-only"):
            await s.execute(delete(PlatformAuditLog).where(PlatformAuditLog.id == row_id))


def test_heads_include_the_trigger_revisions():
    from app.db.migrate import _script

    for scope, rev in (("tenant", "t0002"), ("public", "p0002")):
        chain = {r.revision for r in _script(scope, None).iterate_revisions(head_revision(scope), "base")}
        assert rev in chain, f"{scope} head {head_revision(scope)} does not include {rev}"
