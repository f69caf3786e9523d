"""Fleet migration, pending check, drift check and the Citus rule, on a scratch database."""

from __future__ import annotations

import os
import subprocess
import sys

import pytest
from sqlalchemy import text

from app.db.catalog import tenant_drift
from app.db.migrate import deploy, head_revision, migrate_tenants, pending_tenants, tenant_versions
from bench.common import scratch_tenant_revision
from tests.scale.checks import FOREIGN_KEYS_LEAVING_THEIR_SCHEMA, VIEWS_OUTSIDE_READING_TENANTS
from tests.scale.conftest import provision_n


@pytest.fixture(scope="module")
async def fleet(scratch_db):
    slugs = await provision_n(scratch_db.engine, 6, "fl")
    return scratch_db, slugs


def _cli(url: str, *args: str) -> subprocess.CompletedProcess:
    env = dict(os.environ, DATABASE_URL=url)
    return subprocess.run(
        [sys.executable, "-m", "app.cli", *args], env=env, capture_output=True, text=True, timeout=120
    )


async def test_pending_is_one_query_and_deploy_skips_everything(fleet):
    db, slugs = fleet
    engine = db.sync_engine()
    with engine.connect() as conn:
        versions = tenant_versions(conn)
        assert versions == {f"tenant_{s}": head_revision("tenant") for s in slugs}
        assert pending_tenants(conn) == []
    engine.dispose()
    result = deploy(db.url, workers=4)
    assert (result.ok, result.failed, result.skipped) == ([], {}, sorted(slugs))


async def test_fleet_migration_reports_failures_and_resumes(fleet, tmp_path):
    db, slugs = fleet
    location = scratch_tenant_revision(tmp_path)
    new_head = head_revision("tenant", location)
    engine = db.sync_engine()
    blocked = slugs[2]
    progress = []
    with engine.connect() as blocker:
        # Another transaction holds the table: that tenant must fail on lock_timeout, not hang.
        blocker.execute(text(f'LOCK TABLE "tenant_{blocked}".calls IN ACCESS EXCLUSIVE MODE'))
        first = migrate_tenants(
            engine,
            slugs,
            workers=3,
            recycle_every=2,
            lock_timeout="300ms",
            script_location=location,
            on_progress=lambda *a: progress.append(a),
        )
        blocker.rollback()
    assert sorted(first.ok) == sorted(set(slugs) - {blocked})
    assert list(first.failed) == [blocked] and "lock" in first.failed[blocked].lower()
    assert len(progress) == len(slugs)
    assert first.connections >= 3  # workers recycle their connection every 2 tenants
    with engine.connect() as conn:
        assert pending_tenants(conn, new_head) == [blocked]
        # The failed tenant's transaction rolled back whole: no half-applied column.
        assert (
            conn.execute(
                text(
                    "SELECT count(*) FROM information_schema.columns WHERE table_schema = :s AND column_name = 'bench_note'"
                ),
                {"s": f"tenant_{blocked}"},
            ).scalar()
            == 0
        )
    rerun = migrate_tenants(engine, slugs, workers=3, script_location=location)
    assert rerun.ok == [blocked] and not rerun.failed
    assert sorted(rerun.skipped) == sorted(set(slugs) - {blocked})
    with engine.connect() as conn:
        assert pending_tenants(conn, new_head) == []
        # Undo the bench revision so later checks compare against the real models again.
        for s in slugs:
            conn.execute(text(f'ALTER TABLE "tenant_{s}".calls DROP COLUMN bench_note'))
            conn.execute(
                text(f'UPDATE "tenant_{s}".alembic_version SET version_num = :h'),
                {"h": head_revision("tenant")},
            )
        conn.commit()
    engine.dispose()


async def test_drift_is_reported_for_the_altered_tenant_only(fleet):
    db, slugs = fleet
    engine = db.sync_engine()
    with engine.connect() as conn:
        assert tenant_drift(conn) == {s: [] for s in slugs}
    ok = _cli(db.url, "db", "drift")
    assert ok.returncode == 0, ok.stdout + ok.stderr
    assert f"{len(slugs)} tenant schemas checked · 0 drifted" in ok.stdout
    victim = slugs[4]
    with engine.begin() as conn:
        conn.execute(text(f'ALTER TABLE "tenant_{victim}".calls ADD COLUMN hand_made text'))
        conn.execute(text(f'DROP INDEX "tenant_{victim}".ix_dispatches_opd_open'))
    try:
        with engine.connect() as conn:
            drift = tenant_drift(conn)
        assert {s for s, lines in drift.items() if lines} == {victim}
        assert "+ column calls.hand_made text NULL" in drift[victim]
        assert any(line.startswith("- index dispatches.ix_dispatches_opd_open") for line in drift[victim])
        bad = _cli(db.url, "db", "drift")
        assert bad.returncode == 1
        assert f"drift {victim}" in bad.stdout and "1 drifted" in bad.stdout
        assert all(f"drift {s}" not in bad.stdout for s in slugs if s != victim)
    finally:
        with engine.begin() as conn:
            conn.execute(text(f'ALTER TABLE "tenant_{victim}".calls DROP COLUMN hand_made'))
            conn.execute(
                text(f'CREATE INDEX ix_dispatches_opd_open ON "tenant_{victim}".dispatches (opd_id, status)')
            )
        engine.dispose()


async def test_upgrade_then_drift_like_ci(fleet):
    """What CI runs after migrations: `siaga112 db upgrade` then `siaga112 db drift`, both clean."""
    db, slugs = fleet
    up = _cli(db.url, "db", "upgrade")
    assert up.returncode == 0, up.stdout + up.stderr
    assert f"{len(slugs)} schemas, 0 pending" in up.stdout
    drift = _cli(db.url, "db", "drift")
    assert drift.returncode == 0, drift.stdout + drift.stderr


async def test_citus_rule_foreign_keys_stay_inside_their_schema(engine, tenant_a, tenant_b):
    """Every tenant FK points into its own schema; nothing outside references a tenant schema."""
    async with engine.connect() as conn:
        leaving = (await conn.execute(text(FOREIGN_KEYS_LEAVING_THEIR_SCHEMA))).all()
        views = (await conn.execute(text(VIEWS_OUTSIDE_READING_TENANTS))).all()
        inside = (
            await conn.execute(
                text(
                    "SELECT count(*) FROM pg_constraint k JOIN pg_class c ON c.oid = k.conrelid "
                    "JOIN pg_namespace n ON n.oid = c.relnamespace WHERE k.contype = 'f' AND n.nspname = :s"
                ),
                {"s": f"tenant_{tenant_a.slug}"},
            )
        ).scalar()
    assert inside >= 5  # the check is not vacuous: tenants do have foreign keys
    assert leaving == []
    assert views == []


def test_model_metadata_follows_the_citus_rule():
    """The same rule on the models, so a violating model fails before any database is touched."""
    from app.db import models  # noqa: F401
    from app.db.base import PublicBase, TenantBase

    for table in TenantBase.metadata.sorted_tables:
        for fk in table.foreign_keys:
            assert fk.column.table.schema == "tenant", f"{table.name} → {fk.target_fullname}"
    for table in PublicBase.metadata.sorted_tables:
        for fk in table.foreign_keys:
            assert fk.column.table.schema != "tenant", f"public.{table.name} → {fk.target_fullname}"
