"""Rules that keep the schema Citus-ready (schema-based sharding puts each tenant schema on one
node): tenant tables reference only their own schema, and public never references a tenant."""

from __future__ import annotations

from app.db import models  # noqa: F401  (fills both metadatas)
from app.db.base import TENANT_SCHEMA, PublicBase, TenantBase


def test_tenant_foreign_keys_stay_inside_the_tenant_schema():
    crossing = [
        f"{table.name}.{fk.parent.name} -> {fk.column.table.schema}.{fk.column.table.name}"
        for table in TenantBase.metadata.tables.values()
        for fk in table.foreign_keys
        if fk.column.table.schema != TENANT_SCHEMA
    ]
    assert not crossing, crossing


def test_public_tables_never_reference_tenant_tables():
    crossing = [
        f"{table.name}.{fk.parent.name} -> {fk.column.table.name}"
        for table in PublicBase.metadata.tables.values()
        for fk in table.foreign_keys
        if fk.column.table.schema == TENANT_SCHEMA
    ]
    assert not crossing, crossing


def test_every_tenant_table_lives_in_the_placeholder_schema():
    assert TenantBase.metadata.tables
    assert {t.schema for t in TenantBase.metadata.tables.values()} == {TENANT_SCHEMA}
    assert all(t.schema == "public" for t in PublicBase.metadata.tables.values())
