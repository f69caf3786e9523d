"""Tenant isolation: over every model and every tenant route, A can never reach B."""

from __future__ import annotations

import re
import uuid

import pytest
from sqlalchemy import func, select, text

from app.db import models  # noqa: F401
from app.db.base import TenantBase
from app.web.routes_index import iter_routes
from tests.conftest import login
from tests.isolation_seed import seed_every_table

TENANT_TABLES = sorted(TenantBase.metadata.tables.values(), key=lambda t: t.name)


@pytest.fixture(scope="module")
async def seeded(db, tenant_factory):
    a, b = await tenant_factory(prefix="isoa"), await tenant_factory(prefix="isob")
    async with db.tenant(a.slug) as s:
        ids_a = await seed_every_table(s, "A")
    async with db.tenant(b.slug) as s:
        ids_b = await seed_every_table(s, "B")
    return a, b, ids_a, ids_b


@pytest.mark.parametrize("table", TENANT_TABLES, ids=lambda t: t.name)
async def test_session_reads_only_its_own_schema(seeded, db, engine, table):
    a, b, _, _ = seeded
    async with engine.connect() as conn:
        raw_a = {
            repr(tuple(r))
            for r in await conn.execute(text(f'SELECT * FROM "tenant_{a.slug}"."{table.name}"'))
        }
        raw_b = {
            repr(tuple(r))
            for r in await conn.execute(text(f'SELECT * FROM "tenant_{b.slug}"."{table.name}"'))
        }
    assert raw_a and raw_b, f"{table.name} has no seed rows: add them in tests/isolation_seed.py"
    async with db.tenant(a.slug) as s:
        seen_a = {repr(tuple(r)) for r in await s.execute(select(table))}
    async with db.tenant(b.slug) as s:
        seen_b = {repr(tuple(r)) for r in await s.execute(select(table))}
    assert seen_a == raw_a
    assert seen_b == raw_b


@pytest.mark.parametrize("table", TENANT_TABLES, ids=lambda t: t.name)
async def test_writes_land_only_in_own_schema(seeded, db, engine, table):
    a, b, _, _ = seeded
    async with engine.connect() as conn:
        before_b = (
            await conn.execute(text(f'SELECT count(*) FROM "tenant_{b.slug}"."{table.name}"'))
        ).scalar()
    async with db.tenant(a.slug) as s:
        count_a = (await s.execute(select(func.count()).select_from(table))).scalar()
        # Copy one of A's own rows (new primary key where it has a single integer one) inside A.
        row = (await s.execute(select(table).limit(1))).mappings().first()
        values = dict(row)
        pk = list(table.primary_key.columns)
        if len(pk) == 1 and pk[0].autoincrement is not False and pk[0].type.python_type is int:
            values.pop(pk[0].name)
            for col in table.columns:
                if col.unique and col.name in values and isinstance(values[col.name], str):
                    values[col.name] = values[col.name] + "-copy"
                elif col.unique and isinstance(values.get(col.name), uuid.UUID):
                    values[col.name] = uuid.uuid4()
            await s.execute(table.insert().values(**values))
            await s.commit()
            assert (await s.execute(select(func.count()).select_from(table))).scalar() == count_a + 1
    async with engine.connect() as conn:
        after_b = (
            await conn.execute(text(f'SELECT count(*) FROM "tenant_{b.slug}"."{table.name}"'))
        ).scalar()
    assert after_b == before_b


def _tenant_routes(app):
    for path, methods, _ in iter_routes(app.routes):
        if "{slug}" in path:
            for method in sorted(methods - {"HEAD"}):
                yield method, path


async def test_every_tenant_route_refuses_another_tenants_session(app, seeded, client, user_factory):
    """Logged in to A, every route of B answers 401/403/404 (or the login page), never data."""
    a, b, _, ids_b = seeded
    user = await user_factory(a, "admin")
    assert (await login(client, a.slug, user.email)).status_code == 303
    routes = list(_tenant_routes(app))
    assert len(routes) >= 2
    checked = 0
    for method, path in routes:
        if path.endswith("/login"):
            continue
        url = re.sub(
            r"\{(\w+)(:\w+)?\}",
            lambda m: b.slug if m.group(1) == "slug" else str(ids_b.get(m.group(1).removesuffix("_id"), 1)),
            path,
        )
        resp = await client.request(
            method,
            url,
            headers={"accept": "application/json", "x-csrf-token": client.cookies.get("csrf", "")},
        )
        refused = resp.status_code in (401, 403, 404) or (
            resp.status_code == 303 and "/login" in resp.headers["location"]
        )
        assert refused, (method, url, resp.status_code, resp.text[:200])
        checked += 1
    assert checked >= 1


async def test_handover_is_the_only_cross_tenant_writer_and_the_receiver_reads_only_the_document(
    db, engine, tenant_factory, user_factory
):
    """Every statement the receiver's side runs (delivery into its inbox, acceptance) names only
    its own schema and public; a third tenant is untouched; the outbox/inbox pair is all that moved."""
    from sqlalchemy import event

    from app.calls.schemas import IncidentCreate
    from app.calls.service import Ctx, open_incident
    from app.core.principal import Principal
    from app.dispatch.models import Category
    from app.events import load_subscribers
    from app.handover import service
    from app.handover.models import HandoverInbox

    load_subscribers()
    sender, receiver, bystander = [await tenant_factory(prefix=p) for p in ("hos", "hor", "hob")]
    su, ru = await user_factory(sender), await user_factory(receiver)

    def ctx(s, tenant, user):
        return Ctx(s, tenant, Principal("tenant", user.id, "operator", "Op", tenant_slug=tenant.slug))

    async with db.tenant(sender.slug) as s:
        cat = (await s.execute(select(Category.id).where(Category.code == "flood"))).scalar_one()
        incident = await open_incident(
            ctx(s, sender, su), IncidentCreate(category_id=cat, description="rahasia-A")
        )
        row = await service.start(ctx(s, sender, su), incident.id, receiver.slug, "banjir lintas batas")

    async def counts(tenant):
        async with engine.connect() as conn:
            return {
                t.name: (
                    await conn.execute(text(f'SELECT count(*) FROM "tenant_{tenant.slug}"."{t.name}"'))
                ).scalar()
                for t in TENANT_TABLES
            }

    bystander_before = await counts(bystander)
    seen: list[str] = []

    def spy(conn, cursor, statement, parameters, context, executemany):
        seen.append(statement)

    event.listen(engine.sync_engine, "before_cursor_execute", spy)
    try:
        await service.deliver(db, sender.slug, str(row.transfer_id))
        delivery = list(seen)
        seen.clear()
        async with db.tenant(receiver.slug) as s:
            inbox_id = (await s.execute(select(HandoverInbox.id))).scalar_one()
            await service.accept(ctx(s, receiver, ru), inbox_id)
        acceptance = list(seen)
    finally:
        event.remove(engine.sync_engine, "before_cursor_execute", spy)
    sender_schema = f"tenant_{sender.slug}"
    receiver_stmts = [s for s in delivery if f"tenant_{receiver.slug}" in s]
    assert receiver_stmts and all(sender_schema not in s for s in receiver_stmts)
    assert all(
        f"tenant_{receiver.slug}" not in s for s in delivery if sender_schema in s
    )  # never one statement on both
    assert acceptance and all(sender_schema not in s for s in acceptance)
    assert all(f"tenant_{bystander.slug}" not in s for s in delivery + acceptance)
    assert await counts(bystander) == bystander_before
    async with db.tenant(receiver.slug) as s:
        got = (await s.execute(select(HandoverInbox))).scalar_one()
    assert got.document == row.document  # exactly the document, nothing else of the sender
