"""Targets 2–6 on 100+ tenants (marked `scale`; CI runs the whole suite, this included).

Timing is NOT asserted here (bench/tenancy_scale.py prints the figures at 514); these tests
assert the behaviour that must hold at any fleet size.
"""

from __future__ import annotations

import pytest
from sqlalchemy import select, text

from app.db.catalog import tenant_drift
from app.db.database import Database
from app.db.engine import make_async_engine
from app.db.migrate import deploy, head_revision, migrate_tenants, pending_tenants, tenant_versions
from app.dispatch.models import Category, Opd
from bench.common import scratch_tenant_revision
from tests.scale.checks import FOREIGN_KEYS_LEAVING_THEIR_SCHEMA, interleaved_tenant_writes, rows_per_schema
from tests.scale.conftest import provision_n

pytestmark = pytest.mark.scale
N = 100


@pytest.fixture(scope="module")
async def hundred(scratch_db):
    slugs = await provision_n(scratch_db.engine, N, "sc", concurrency=4)
    return scratch_db, slugs


async def test_every_tenant_is_provisioned_at_head_and_nothing_is_pending(hundred):
    db, _slugs = hundred
    engine = db.sync_engine()
    with engine.connect() as conn:
        versions = tenant_versions(conn)
        assert len(versions) == N and set(versions.values()) == {head_revision("tenant")}
        assert pending_tenants(conn) == []
        assert conn.execute(text("SELECT count(*) FROM public.tenants")).scalar() == N
    engine.dispose()
    result = deploy(db.url)
    assert result.ok == [] and result.failed == {} and len(result.skipped) == N


async def test_binding_holds_across_a_hundred_tenants_on_two_connections(hundred, settings):
    db, slugs = hundred
    engine = make_async_engine(settings, url=db.url, pool_size=2, max_overflow=0)
    try:
        await interleaved_tenant_writes(Database(engine), slugs, per_tenant=2)
    finally:
        await engine.dispose()
    sync = db.sync_engine()
    with sync.connect() as conn:
        assert rows_per_schema(conn, slugs) == {s: {f"marker:{s}": 2} for s in slugs}
    sync.dispose()


async def test_compiled_cache_does_not_grow_with_a_hundred_tenants(hundred, settings):
    db, slugs = hundred
    engine = make_async_engine(settings, url=db.url, pool_size=2, max_overflow=0)
    database = Database(engine)
    statements = [
        select(Opd.code).where(Opd.code == "damkar"),
        select(Category.id, Category.name).order_by(Category.sort_order).limit(3),
    ]

    async def touch(slug: str) -> None:
        async with database.tenant(slug) as s:
            for stmt in statements:
                assert (await s.execute(stmt)).first() is not None
            s.add(Opd(code="cache_probe", name="probe", type="other"))
            await s.flush()
            await s.rollback()

    try:
        await touch(slugs[0])
        before = len(engine.sync_engine._compiled_cache)
        for slug in slugs[1:]:
            await touch(slug)
        assert len(engine.sync_engine._compiled_cache) == before
        assert engine.sync_engine.pool._recycle == settings.db_pool_recycle_s
    finally:
        await engine.dispose()


async def test_drift_check_finds_exactly_the_one_altered_tenant(hundred):
    db, slugs = hundred
    engine = db.sync_engine()
    victim = slugs[57]
    with engine.connect() as conn:
        assert not any(tenant_drift(conn).values())
    with engine.begin() as conn:
        conn.execute(text(f'ALTER TABLE "tenant_{victim}".opds ALTER COLUMN name TYPE varchar(50)'))
    try:
        with engine.connect() as conn:
            drift = tenant_drift(conn)
        assert len(drift) == N
        assert [s for s, lines in drift.items() if lines] == [victim]
        assert "+ column opds.name character varying(50) NOT NULL" in drift[victim]
    finally:
        with engine.begin() as conn:
            conn.execute(text(f'ALTER TABLE "tenant_{victim}".opds ALTER COLUMN name TYPE varchar(200)'))
        engine.dispose()


async def test_fleet_migration_of_a_hundred_tenants_resumes_and_recycles(hundred, tmp_path):
    db, slugs = hundred
    location = scratch_tenant_revision(tmp_path)
    new_head = head_revision("tenant", location)
    engine = db.sync_engine()
    # An interrupted run: only the first 30 tenants get migrated.
    first = migrate_tenants(engine, slugs[:30], workers=4, script_location=location)
    assert len(first.ok) == 30 and not first.failed
    with engine.connect() as conn:
        assert len(pending_tenants(conn, new_head)) == N - 30
    statuses: dict[str, str] = {}
    rest = migrate_tenants(
        engine,
        slugs,
        workers=4,
        recycle_every=10,
        script_location=location,
        on_progress=lambda slug, status, error: statuses.__setitem__(slug, status),
    )
    assert not rest.failed
    assert sorted(rest.skipped) == sorted(slugs[:30]) and len(rest.ok) == N - 30
    assert len(statuses) == N and set(statuses.values()) == {"ok", "skipped"}
    assert rest.connections >= (N - 30) // 10  # connections were recycled, not held for the whole run
    with engine.connect() as conn:
        assert pending_tenants(conn, new_head) == []
        assert conn.execute(text(FOREIGN_KEYS_LEAVING_THEIR_SCHEMA)).all() == []
    engine.dispose()
