"""Tenant binding is per transaction: interleaved tenants on a tiny pool never mix, and a pooled
connection carries nothing from one tenant's session to the next user."""

from __future__ import annotations

import os

from sqlalchemy import select, text

from app.db.database import Database
from app.db.engine import make_async_engine, make_sync_engine
from app.db.migrate import upgrade_tenant
from app.dispatch.models import Opd
from tests.scale.checks import interleaved_tenant_writes, rows_per_schema


async def test_interleaved_sessions_on_a_pool_of_two_never_cross_tenants(settings, tenant_factory):
    tenants = [await tenant_factory(prefix="bind") for _ in range(6)]
    slugs = [t.slug for t in tenants]
    engine = make_async_engine(settings, pool_size=2, max_overflow=0)
    try:
        await interleaved_tenant_writes(Database(engine), slugs, per_tenant=8)
        assert engine.sync_engine.pool.checkedout() == 0
    finally:
        await engine.dispose()
    sync = make_sync_engine(os.environ["DATABASE_URL"])
    with sync.connect() as conn:
        truth = rows_per_schema(conn, slugs)
    sync.dispose()
    # Ground truth with explicit schema names: each schema holds exactly its own 8 rows.
    assert truth == {slug: {f"marker:{slug}": 8} for slug in slugs}


async def test_nothing_persists_on_a_pooled_connection(settings, tenant_a):
    """The next user of the same physical connection sees the default search_path, no tenant."""
    engine = make_async_engine(settings, pool_size=1, max_overflow=0)
    db = Database(engine)
    try:
        async with engine.connect() as conn:
            pid = (await conn.execute(text("SELECT pg_backend_pid()"))).scalar()
            default_path = (await conn.execute(text("SHOW search_path"))).scalar()
        assert default_path == '"$user", public'
        async with db.tenant(tenant_a.slug) as s:
            assert (await s.execute(select(Opd.code).where(Opd.code == "damkar"))).scalar() == "damkar"
            await s.commit()
        async with engine.connect() as conn:
            assert (await conn.execute(text("SELECT pg_backend_pid()"))).scalar() == pid
            assert (await conn.execute(text("SHOW search_path"))).scalar() == default_path
            # Unqualified tenant table names resolve to nothing: there is no tenant binding left.
            assert (await conn.execute(text("SELECT to_regclass('opds')"))).scalar() is None
    finally:
        await engine.dispose()


def test_migration_search_path_ends_with_its_transaction(tenant_a):
    """Alembic runs with set_config(..., true): after the commit the connection is clean."""
    engine = make_sync_engine(os.environ["DATABASE_URL"], pool_size=1, max_overflow=0)
    try:
        with engine.connect() as conn:
            with conn.begin():
                upgrade_tenant(conn, tenant_a.slug)
                assert conn.execute(text("SHOW search_path")).scalar() == f"tenant_{tenant_a.slug}"
            assert conn.execute(text("SHOW search_path")).scalar() == '"$user", public'
    finally:
        engine.dispose()


async def test_provisioning_leaves_the_pooled_connection_clean(settings, tenant_factory):
    from app.tenancy.provision import NewTenant, provision_tenant

    engine = make_async_engine(settings, pool_size=1, max_overflow=0)
    try:
        await provision_tenant(engine, NewTenant("clean_path_x", "Kota Bersih", "CP001", "Riau"))
        async with engine.connect() as conn:
            assert (await conn.execute(text("SHOW search_path"))).scalar() == '"$user", public'
    finally:
        await engine.dispose()


def test_pool_recycle_setting_is_applied(settings):
    """Pooled connections are retired after db_pool_recycle_s, bounding each backend's catalog cache."""
    engine = make_async_engine(settings.model_copy(update={"db_pool_recycle_s": 321}))
    assert engine.sync_engine.pool._recycle == 321
    assert make_async_engine(settings).sync_engine.pool._recycle == settings.db_pool_recycle_s > 0
