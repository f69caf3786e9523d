"""Caller reputation counts from call outcomes, in the call's own transaction (app.events)."""

from __future__ import annotations

from sqlalchemy.ext.asyncio import AsyncSession

from app.db.loading import loaded
from app.events import DomainEvent, subscribe
from app.national.rollup import local_day
from app.reputation import service


@subscribe("call.created", batch=True)
async def on_calls_created(session: AsyncSession, batch: list[DomainEvent]) -> None:
    rows = []
    for event in batch:
        number, outcome, received_at = await loaded(
            session, event.call, "caller_number", "outcome", "received_at"
        )
        b = service.bucket(outcome)
        if b is not None and service.countable(number):
            rows.append((number, received_at, {b: 1}))
    if not rows:
        return  # most intakes (ringing, no outcome yet) end here without a query
    tenant = batch[0].tenant
    await service.add(session, tenant.id, [(n, local_day(at, tenant.zone), d) for n, at, d in rows])


@subscribe("call.updated", batch=True)
async def on_calls_updated(session: AsyncSession, batch: list[DomainEvent]) -> None:
    """Outcome changes of a batch (batched telephony events) in one statement."""
    rows = []
    for event in batch:
        change = (event.payload.get("changes") or {}).get("outcome")
        if not change:
            continue
        old, new = service.bucket(change[0]), service.bucket(change[1])
        if old == new:
            continue
        number, received_at = await loaded(session, event.call, "caller_number", "received_at")
        if not service.countable(number):
            continue
        deltas = {k: 0 for k in ("prank", "silent", "genuine")}
        if old:
            deltas[old] -= 1
        if new:
            deltas[new] += 1
        rows.append((number, received_at, deltas))
    if not rows:
        return
    tenant = batch[0].tenant
    await service.add(session, tenant.id, [(n, local_day(at, tenant.zone), d) for n, at, d in rows])
