"""API intake under concurrency: calls logged together (app.calls.intake) are each complete,
committed and answered on their own; one bad call fails only its own request."""

from __future__ import annotations

import asyncio

from sqlalchemy import func, select

from app.calls.models import Call, EventLog
from app.national.models import national_pending
from app.sla.models import SlaClock


def _body(i: int, **extra) -> dict:
    return {"caller_number": f"+62812{i:08d}", "channel": "voice", **extra}


async def _national_calls_pending(db, tenant) -> int:
    async with db.public() as s:
        rows = (
            (
                await s.execute(
                    select(national_pending.c.deltas).where(
                        national_pending.c.tenant_id == tenant.id, national_pending.c.kind == "daily"
                    )
                )
            )
            .scalars()
            .all()
        )
    return sum(d.get("calls_total", 0) for d in rows)


async def test_concurrent_intakes_are_batched_and_each_call_is_complete(app, db, tenant_a, client_as):
    op = await client_as(tenant_a, "operator")
    national_before = await _national_calls_pending(db, tenant_a)  # tenant_a is shared with other tests
    batcher = app.state.intake.batcher
    before = (batcher.flushes, batcher.items)
    responses = await asyncio.gather(
        *(op.post(f"/api/v1/t/{tenant_a.slug}/calls", json=_body(i)) for i in range(24))
    )
    assert [r.status_code for r in responses] == [201] * 24, [
        r.text for r in responses if r.status_code != 201
    ]
    ids = [r.json()["id"] for r in responses]
    assert len(set(ids)) == 24
    assert {r.json()["caller_number"] for r in responses} == {f"+62812{i:08d}" for i in range(24)}
    flushes, items = batcher.flushes - before[0], batcher.items - before[1]
    assert items == 24 and flushes < 24  # they really shared transactions

    async with db.tenant(tenant_a.slug) as s:
        calls = (await s.execute(select(Call.id, Call.operator_id).where(Call.id.in_(ids)))).all()
        logged = (
            await s.execute(
                select(func.count())
                .select_from(EventLog)
                .where(
                    EventLog.entity == "call",
                    EventLog.kind == "logged",
                    EventLog.entity_id.in_(ids),
                    EventLog.actor_id == op.user.id,
                )
            )
        ).scalar_one()
        clocks = (
            await s.execute(
                select(func.count())
                .select_from(SlaClock)
                .where(SlaClock.kind == "answer", SlaClock.call_id.in_(ids))
            )
        ).scalar_one()
    assert len(calls) == 24 and {c.operator_id for c in calls} == {op.user.id}
    assert logged == 24 and clocks == 24  # every call has its event row and its answer clock
    assert (
        await _national_calls_pending(db, tenant_a) - national_before == 24
    )  # the national counts see every call


async def test_one_bad_call_in_a_batch_fails_alone(app, db, tenant_a, client_as):
    op = await client_as(tenant_a, "operator")
    bodies = [_body(100 + i) for i in range(12)]
    bodies[5] = _body(105, outcome="duplicate", duplicate_of_id=987654321)  # no such original
    responses = await asyncio.gather(*(op.post(f"/api/v1/t/{tenant_a.slug}/calls", json=b) for b in bodies))
    codes = [r.status_code for r in responses]
    assert codes[5] == 422 and responses[5].json()["errors"][0]["field"] == "duplicate_of_id"
    assert codes[:5] + codes[6:] == [201] * 11
    async with db.tenant(tenant_a.slug) as s:
        numbers = set(
            (
                await s.execute(
                    select(Call.caller_number).where(
                        Call.caller_number.in_([b["caller_number"] for b in bodies])
                    )
                )
            ).scalars()
        )
    assert numbers == {b["caller_number"] for i, b in enumerate(bodies) if i != 5}


async def test_batched_intake_stays_in_each_callers_tenant(app, db, tenant_a, tenant_b, client_as):
    a, b = await client_as(tenant_a, "operator"), await client_as(tenant_b, "operator")
    posts = [
        c.post(f"/api/v1/t/{t.slug}/calls", json=_body(200 + i))
        for i in range(8)
        for c, t in ((a, tenant_a), (b, tenant_b))
    ]
    responses = await asyncio.gather(*posts)
    assert [r.status_code for r in responses] == [201] * 16
    for tenant, client in ((tenant_a, a), (tenant_b, b)):
        async with db.tenant(tenant.slug) as s:
            ops = set(
                (
                    await s.execute(
                        select(Call.operator_id).where(
                            Call.caller_number.in_([f"+62812{200 + i:08d}" for i in range(8)])
                        )
                    )
                ).scalars()
            )
        assert ops == {client.user.id}  # each regency has only its own operator's eight calls
    # a cookie of regency A is refused by regency B's intake, batched or not
    r = await a.post(f"/api/v1/t/{tenant_b.slug}/calls", json=_body(300))
    assert r.status_code == 401
