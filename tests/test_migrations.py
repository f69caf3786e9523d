"""Every migration runs up and down on a real database, and migrations match the models."""

from __future__ import annotations

import os
import uuid

import psycopg
import pytest
from sqlalchemy import text

from app.db.catalog import schema_catalog
from app.db.engine import make_sync_engine
from app.db.migrate import downgrade_tenant, head_revision, tenant_versions, upgrade_public, upgrade_tenant
from tests.conftest import PG_ADMIN


@pytest.fixture
def scratch_db_url():
    name = f"siaga112_mig_{uuid.uuid4().hex[:8]}"
    with psycopg.connect(PG_ADMIN, autocommit=True) as conn:
        conn.execute(f'CREATE DATABASE "{name}"')
    yield os.environ["DATABASE_URL"].rsplit("/", 1)[0] + "/" + name
    with psycopg.connect(PG_ADMIN, autocommit=True) as conn:
        conn.execute(f'DROP DATABASE "{name}" WITH (FORCE)')


def test_public_and_tenant_branches_up_down_up(scratch_db_url):
    from alembic import command

    from app.db.migrate import alembic_config

    engine = make_sync_engine(scratch_db_url)

    def scalar(sql):
        with engine.connect() as c:
            return c.execute(text(sql)).scalar()

    with engine.begin() as conn:
        upgrade_public(conn)
    assert scalar("SELECT version_num FROM public.alembic_version") == head_revision("public")
    with engine.begin() as conn:
        upgrade_tenant(conn, "mig_a")
    with engine.connect() as conn:
        assert tenant_versions(conn) == {"tenant_mig_a": head_revision("tenant")}
    assert scalar("SELECT count(*) FROM information_schema.tables WHERE table_schema = 'tenant_mig_a'") >= 8
    with engine.begin() as conn:
        downgrade_tenant(conn, "mig_a", "base")
    with engine.connect() as conn:
        left = (
            conn.execute(
                text("SELECT table_name FROM information_schema.tables WHERE table_schema = 'tenant_mig_a'")
            )
            .scalars()
            .all()
        )
    assert left == ["alembic_version"]
    with engine.begin() as conn:
        upgrade_tenant(conn, "mig_a")
    with engine.connect() as conn:
        assert tenant_versions(conn)["tenant_mig_a"] == head_revision("tenant")

    with engine.begin() as conn:
        cfg = alembic_config("public")
        cfg.attributes["connection"] = conn
        command.downgrade(cfg, "base")
    assert scalar("SELECT to_regclass('public.tenants')") is None
    with engine.begin() as conn:
        upgrade_public(conn)
    assert scalar("SELECT to_regclass('public.tenants')") is not None
    engine.dispose()


async def test_provisioned_schema_equals_migrated_schema(tenant_a):
    """Provisioning builds from model DDL; replaying the history must give the same catalog."""
    engine = make_sync_engine(os.environ["DATABASE_URL"])
    slug = f"replay_{uuid.uuid4().hex[:6]}"
    with engine.begin() as conn:
        upgrade_tenant(conn, slug)
    with engine.connect() as conn:
        migrated = schema_catalog(conn, f"tenant_{slug}")
        provisioned = schema_catalog(conn, f"tenant_{tenant_a.slug}")
    with engine.begin() as conn:
        conn.execute(text(f'DROP SCHEMA "tenant_{slug}" CASCADE'))
    engine.dispose()
    assert len(migrated["columns"]) > 50 and migrated["indexes"] and migrated["constraints"]
    assert migrated == provisioned
