"""Intake appends deltas (no shared counter row), the fold turns them into figures, and the
recount agrees with the fold without double counting what is still pending."""

from __future__ import annotations

import asyncio

from sqlalchemy import func, select

from app.national.models import (
    national_daily,
    national_daily_category,
    national_daily_channel,
    national_daily_opd,
    national_pending,
)
from tests.national.conftest import category_id, make_call, opd_id, principal_of, ts


async def _rollups(db, tenant_id: int) -> dict:
    out = {}
    async with db.public() as s:
        for table in (national_daily, national_daily_category, national_daily_opd, national_daily_channel):
            rows = (await s.execute(select(table).where(table.c.tenant_id == tenant_id))).mappings().all()
            out[table.name] = sorted(tuple(sorted(dict(r).items())) for r in rows)
    return out


async def _pending(db, tenant_id: int) -> int:
    async with db.public() as s:
        return (
            await s.execute(
                select(func.count())
                .select_from(national_pending)
                .where(national_pending.c.tenant_id == tenant_id)
            )
        ).scalar_one()


async def _open_intake(db, tenant, user, received_at):
    """A call inserted and its call.created handlers run, NOT committed: an intake transaction in flight."""
    from app import events
    from app.calls.models import Call

    cm = db.tenant(tenant.slug)
    s = await cm.__aenter__()
    call = Call(
        caller_number="+6281200000001",
        channel="voice",
        language="id",
        received_at=received_at,
        operator_id=user.id,
    )
    s.add(call)
    await s.flush()
    await events.emit(s, "call.created", tenant, actor_id=user.id, call=call)
    return cm, s


async def test_intake_of_one_tenant_and_day_does_not_serialise(app, db, tenant_factory, user_factory):
    from app.calls import service
    from app.calls.schemas import CallCreate
    from app.calls.service import Ctx

    t = await tenant_factory()
    u = await user_factory(t, "operator")
    now = ts(3, day=12)
    cm, held = await _open_intake(db, t, u, now)
    try:
        assert await _pending(db, t.id) == 0  # A's delta is not committed
        async with db.tenant(t.slug) as s:
            ctx = Ctx(session=s, tenant=t, actor=principal_of(t, u))
            # Same tenant, same local day, while A holds its transaction open: must not wait for A.
            call = await asyncio.wait_for(
                service.create_call(ctx, CallCreate(caller_number="+6281200000002", received_at=now)), 5
            )
        assert call.id is not None
        assert await _pending(db, t.id) == 2  # its daily delta and its channel delta
    finally:
        await held.rollback()
        await cm.__aexit__(None, None, None)
    from app.national.rollup import fold

    await fold(db)
    day = (await _rollups(db, t.id))["national_daily"]
    assert len(day) == 1 and dict(day[0])["calls_total"] == 1  # only the committed call


async def test_fold_and_recount_give_the_same_numbers(app, db, tenant_factory, user_factory):
    from app.calls import service as calls
    from app.calls.schemas import IncidentCreate
    from app.calls.service import Ctx
    from app.dispatch import service as dispatch
    from app.dispatch.schemas import DispatchCreate
    from app.national.rollup import fold, rebuild_tenant

    t = await tenant_factory()
    u = await user_factory(t, "operator")
    for hour, outcome, answer in ((1, "prank", 2), (2, "silent", 9), (3, None, 40), (17, "misdial", None)):
        await make_call(db, t, u, ts(hour, day=14), outcome, answer)
    emergency = await make_call(db, t, u, ts(4, day=14), None, 5)
    async with db.tenant(t.slug) as s:
        ctx = Ctx(session=s, tenant=t, actor=principal_of(t, u))
        incident = await calls.open_incident(
            ctx, IncidentCreate(category_id=await category_id(db, t, "fire"), call_id=emergency.id)
        )
    async with db.tenant(t.slug) as s:
        ctx = Ctx(session=s, tenant=t, actor=principal_of(t, u))
        await dispatch.dispatch_incident(
            ctx, incident.id, DispatchCreate(opd_ids=[await opd_id(db, t, "damkar")])
        )

    assert await _pending(db, t.id) > 0
    assert await fold(db) > 0
    assert await _pending(db, t.id) == 0
    folded = await _rollups(db, t.id)
    daily = {dict(r)["day"]: dict(r) for r in folded["national_daily"]}
    assert sum(r["calls_total"] for r in daily.values()) == 5
    assert (
        sum(r["incidents"] for r in daily.values()) == 1 and sum(r["dispatches"] for r in daily.values()) == 1
    )
    assert folded["national_daily_category"] and folded["national_daily_opd"]

    await rebuild_tenant(db, t.slug)
    assert await _rollups(db, t.id) == folded

    # Deltas still pending when a recount runs are already in its numbers: it drops them, and the
    # next fold adds nothing twice.
    await make_call(db, t, u, ts(5, day=14), "prank", 3)
    assert await _pending(db, t.id) >= 1
    await rebuild_tenant(db, t.slug)
    assert await _pending(db, t.id) == 0
    recounted = await _rollups(db, t.id)
    await fold(db)
    assert await _rollups(db, t.id) == recounted
    assert sum(dict(r)["calls_total"] for r in recounted["national_daily"]) == 6


async def test_recount_waits_for_intake_in_flight(app, db, tenant_factory, user_factory):
    from app.national.rollup import fold, rebuild_tenant

    t = await tenant_factory()
    u = await user_factory(t, "operator")
    await make_call(db, t, u, ts(2, day=15), "prank", 1)
    cm, held = await _open_intake(db, t, u, ts(3, day=15))
    recount = asyncio.create_task(rebuild_tenant(db, t.slug))
    await asyncio.sleep(0.5)
    assert not recount.done()  # blocked by the in-flight intake's shared lock
    await held.commit()
    await cm.__aexit__(None, None, None)
    await asyncio.wait_for(recount, 10)
    await fold(db)  # the in-flight call's delta was dropped by the recount that counted its call
    rows = (await _rollups(db, t.id))["national_daily"]
    assert sum(dict(r)["calls_total"] for r in rows) == 2
    assert await _pending(db, t.id) == 0


async def test_fold_drops_deltas_of_a_deleted_tenant(db):
    from datetime import date

    from app.national.rollup import fold

    async with db.public() as s:
        await s.execute(
            national_pending.insert().values(
                tenant_id=-42, day=date(2025, 3, 1), kind="daily", key="", deltas={"calls_total": 1}
            )
        )
        await s.commit()
    await fold(db)
    assert await _pending(db, -42) == 0
    assert (await _rollups(db, -42))["national_daily"] == []
