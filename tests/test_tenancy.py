"""Tenant provisioning and the data-layer binding that keeps tenants apart."""

from __future__ import annotations

import uuid

import pytest
from sqlalchemy import func, select, text
from sqlalchemy.exc import ProgrammingError

from app.db.migrate import head_revision
from app.db.tenancy import InvalidSlug, schema_for
from app.dispatch.models import Category, CategoryOpd, Opd
from app.tenancy import provision
from app.tenancy.models import Tenant
from app.tenancy.provision import NewTenant, TenantExists, provision_tenant


async def test_provision_creates_schema_stamp_and_seed(engine, db):
    slug = f"p_{uuid.uuid4().hex[:8]}"
    await provision_tenant(engine, NewTenant(slug, "Kota Baru", "P" + slug[-4:], "Riau"))
    async with engine.connect() as conn:
        version = (
            await conn.execute(text(f'SELECT version_num FROM "tenant_{slug}".alembic_version'))
        ).scalar()
    assert version == head_revision("tenant")
    async with db.tenant(slug) as s:
        assert (await s.execute(select(func.count()).select_from(Opd))).scalar() >= 10
        fire = (await s.execute(select(Category).where(Category.code == "fire"))).scalar_one()
        routed = (
            (
                await s.execute(
                    select(Opd.code)
                    .join(CategoryOpd, CategoryOpd.opd_id == Opd.id)
                    .where(CategoryOpd.category_id == fire.id)
                )
            )
            .scalars()
            .all()
        )
    assert set(routed) == {"damkar", "bpbd"}


async def test_duplicate_region_code_is_refused(engine, tenant_a):
    with pytest.raises(TenantExists):
        await provision_tenant(
            engine, NewTenant(f"dup_{uuid.uuid4().hex[:6]}", "X", tenant_a.region_code, "Riau")
        )


async def test_failed_provisioning_leaves_nothing_behind(engine, monkeypatch):
    slug = f"boom_{uuid.uuid4().hex[:6]}"

    async def exploding_seed(conn):
        raise RuntimeError("seed failed half way")

    monkeypatch.setattr(provision, "seed_defaults", exploding_seed)
    with pytest.raises(RuntimeError):
        await provision_tenant(engine, NewTenant(slug, "Kota Gagal", "B" + slug[-4:], "Riau"))
    async with engine.connect() as conn:
        assert (
            await conn.execute(text("SELECT to_regnamespace(:s)"), {"s": schema_for(slug)})
        ).scalar() is None
        assert (await conn.execute(select(Tenant.id).where(Tenant.slug == slug))).first() is None


@pytest.mark.parametrize("bad", ["", "A", "Solok", "x; drop", "1abc", "a" * 60, "tenant-x"])
def test_bad_slugs_are_refused(bad):
    with pytest.raises(InvalidSlug):
        schema_for(bad)


async def test_unbound_session_cannot_touch_tenant_tables(db):
    """No fallback to public: without a tenant binding the placeholder schema does not exist."""
    async with db.public() as s:
        with pytest.raises(ProgrammingError, match=r'relation "tenant\.opds" does not exist'):
            await s.execute(select(Opd))


async def test_compiled_cache_does_not_grow_per_tenant(engine, db, tenant_factory):
    tenants = [await tenant_factory() for _ in range(5)]
    stmt = select(Opd.code).where(Opd.code == "damkar")
    async with db.tenant(tenants[0].slug) as s:
        await s.execute(stmt)
    size_before = len(engine.sync_engine._compiled_cache)
    for t in tenants[1:]:
        async with db.tenant(t.slug) as s:
            assert (await s.execute(stmt)).scalar() == "damkar"
    assert len(engine.sync_engine._compiled_cache) == size_before
