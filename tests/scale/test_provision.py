"""Provisioning is one transaction: a failure in the DDL step leaves no registry row either."""

from __future__ import annotations

import uuid

import pytest
from sqlalchemy import select, text
from sqlalchemy.exc import ProgrammingError

from app.db.migrate import head_revision
from app.db.schema_ddl import render_schema_ddl
from app.tenancy.models import Tenant
from app.tenancy.provision import NewTenant, provision_tenant


async def test_ddl_failure_rolls_back_the_registry_row(engine):
    slug = f"clash_{uuid.uuid4().hex[:6]}"
    async with engine.begin() as conn:
        # A leftover object makes the tenant's DDL fail after the registry row was inserted.
        await conn.execute(text(f'CREATE SCHEMA "tenant_{slug}"'))
    try:
        with pytest.raises(ProgrammingError, match="already exists"):
            await provision_tenant(engine, NewTenant(slug, "Kota Bentrok", "X" + slug[-4:], "Riau"))
        async with engine.connect() as conn:
            assert (await conn.execute(select(Tenant.id).where(Tenant.slug == slug))).first() is None
            tables = (
                await conn.execute(
                    text("SELECT count(*) FROM pg_tables WHERE schemaname = :s"), {"s": f"tenant_{slug}"}
                )
            ).scalar()
        assert tables == 0
    finally:
        async with engine.begin() as conn:
            await conn.execute(text(f'DROP SCHEMA IF EXISTS "tenant_{slug}" CASCADE'))


def test_rendered_ddl_names_only_the_tenant_schema():
    """The pre-rendered script must not create anything outside its own schema."""
    ddl = render_schema_ddl("tenant_probe", head_revision("tenant"))
    statements = [s.strip() for s in ddl.split(";\n") if s.strip()]
    assert statements[0] == "CREATE SCHEMA tenant_probe"
    assert "__siaga112_tenant__" not in ddl
    for stmt in statements[1:]:
        head = stmt.split("(")[0]
        if stmt.startswith(("CREATE TABLE", "CREATE INDEX", "CREATE UNIQUE INDEX", "INSERT INTO")):
            assert "tenant_probe." in head, stmt[:120]
    assert " public." not in ddl and "REFERENCES public" not in ddl
