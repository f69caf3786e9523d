"""Creating a tenant: registry row, schema, every table at head, Alembic stamp and seed data.

All in ONE transaction, built from the current model DDL and stamped (never by replaying the
migration history): a tenant appears whole or not at all. A test replays the history on another
schema and checks the catalogs are identical, so the two paths cannot drift.
"""

from __future__ import annotations

from dataclasses import dataclass

from sqlalchemy import Connection, insert, text
from sqlalchemy.ext.asyncio import AsyncConnection, AsyncEngine

from app.db import models  # noqa: F401
from app.db.migrate import head_revision
from app.db.schema_ddl import render_schema_ddl
from app.db.tenancy import bind_search_path, schema_for, translate_map, validate_slug
from app.dispatch.models import Category, CategoryOpd, Opd
from app.sla.policies import seed_default_policies
from app.tenancy.defaults import DEFAULT_CATEGORIES, DEFAULT_OPDS
from app.tenancy.models import Tenant


class TenantExists(ValueError):
    pass


@dataclass
class NewTenant:
    slug: str
    name: str
    region_code: str
    province: str
    timezone: str = "WIB"
    status: str = "pending"


def _create_schema_objects(sync_conn: Connection, schema: str, head: str) -> None:
    # search_path = the tenant only for this transaction, as during migrations (alembic_env), so
    # hand-written after_create DDL that names objects without a schema lands in the tenant too.
    bind_search_path(sync_conn, schema)
    sync_conn.exec_driver_sql(render_schema_ddl(schema, head))
    bind_search_path(sync_conn, "public")


async def seed_defaults(conn: AsyncConnection) -> None:
    """Default OPDs, categories and routing; ``conn`` must already be bound to the tenant.

    Three statements whatever the list lengths (insertmanyvalues batches the RETURNING inserts).
    """
    keys = sorted({k for row in DEFAULT_OPDS for k in row})
    opd_rows = [{k: row.get(k) for k in keys} | {"is_active": True} for row in DEFAULT_OPDS]
    opd_ids = dict(
        (code, oid)
        for oid, code in (await conn.execute(insert(Opd).returning(Opd.id, Opd.code), opd_rows)).all()
    )
    cat_rows = [
        {"code": code, "name": name, "default_priority": prio, "sort_order": order * 10, "is_active": True}
        for order, (code, name, prio, _) in enumerate(DEFAULT_CATEGORIES)
    ]
    cat_ids = dict(
        (code, cid)
        for cid, code in (
            await conn.execute(insert(Category).returning(Category.id, Category.code), cat_rows)
        ).all()
    )
    links = [
        {"category_id": cat_ids[code], "opd_id": opd_ids[c]}
        for code, _, _, routed in DEFAULT_CATEGORIES
        for c in routed
    ]
    if links:
        await conn.execute(insert(CategoryOpd), links)
    await seed_default_policies(conn)  # SLA targets P1–P4 (NENA / 10-minute reaction)


async def provision_tenant(engine: AsyncEngine, new: NewTenant, seed: bool = True) -> int:
    """Create the tenant and return its registry id. Raises TenantExists on a duplicate."""
    validate_slug(new.slug)
    schema = schema_for(new.slug)
    head = head_revision("tenant")
    async with engine.begin() as conn:
        clash = (
            await conn.execute(
                text("SELECT slug, region_code FROM public.tenants WHERE slug = :s OR region_code = :r"),
                {"s": new.slug, "r": new.region_code},
            )
        ).first()
        if clash:
            raise TenantExists(
                f"Kabupaten/kota dengan kode {new.region_code} atau slug {new.slug} sudah terdaftar"
            )
        tenant_id = (
            await conn.execute(
                insert(Tenant)
                .values(
                    slug=new.slug,
                    name=new.name,
                    region_code=new.region_code,
                    province=new.province,
                    timezone=new.timezone,
                    status=new.status,
                )
                .returning(Tenant.id)
            )
        ).scalar_one()
        await conn.run_sync(_create_schema_objects, schema, head)
        if seed:
            bound = await conn.execution_options(schema_translate_map=translate_map(new.slug))
            await seed_defaults(bound)
    return tenant_id


async def drop_tenant_schema(engine: AsyncEngine, slug: str) -> None:
    """For tests and benchmarks only: remove a tenant entirely."""
    schema = schema_for(slug)
    async with engine.begin() as conn:
        await conn.execute(text(f'DROP SCHEMA IF EXISTS "{schema}" CASCADE'))
        await conn.execute(text("DELETE FROM public.tenants WHERE slug = :s"), {"s": slug})
