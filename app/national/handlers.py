"""Keep the national rollups current from the call workflow's domain events.

Each handler runs in the emitting service's transaction (see app.events), so its delta rows commit
or roll back with the change itself. A missed or wrong delta is repaired by the nightly
recount (app.national.jobs), which is the reference definition of every figure.
"""

from __future__ import annotations

import logging

from sqlalchemy.ext.asyncio import AsyncSession

from app.db.loading import loaded
from app.dispatch.models import Category, Opd
from app.events import DomainEvent, subscribe
from app.national.models import outcome_col
from app.national.rollup import (
    REGENCY_HANDOVER,
    add_deltas,
    answer_deltas,
    bump,
    bump_channel,
    bump_keyed,
    call_deltas,
    local_day,
)

log = logging.getLogger(__name__)


@subscribe("call.created", batch=True)
async def on_calls_created(session: AsyncSession, batch: list[DomainEvent]) -> None:
    """A batch of intakes adds ONE delta row per local day (the fold sums them anyway)."""
    tenant = batch[0].tenant
    by_day: dict = {}
    by_channel: dict = {}  # (day, channel) → deltas (national_daily_channel)
    for event in batch:
        outcome, received_at, answered_at, channel = await loaded(
            session, event.call, "outcome", "received_at", "answered_at", "channel"
        )
        day = local_day(received_at, tenant.zone)
        deltas = call_deltas(outcome, received_at, answered_at)
        add_deltas(by_day.setdefault(day, {}), deltas)
        add_deltas(by_channel.setdefault((day, channel or "voice"), {}), deltas)
    for day, deltas in by_day.items():
        await bump(session, tenant, day, deltas)
    for (day, channel), deltas in by_channel.items():
        await bump_channel(session, tenant, channel, day, deltas)


@subscribe("call.updated", batch=True)
async def on_calls_updated(session: AsyncSession, batch: list[DomainEvent]) -> None:
    """Outcome and answer changes, summed into ONE delta row per local day of the batch."""
    relevant = [e for e in batch if {"outcome", "answered_at"} & (e.payload.get("changes") or {}).keys()]
    if not relevant:
        return
    tenant = relevant[0].tenant
    by_day: dict = {}
    by_channel: dict = {}  # (day, channel) → answer deltas (national_daily_channel)
    for event in relevant:
        changes = event.payload["changes"]
        received_at, channel = await loaded(session, event.call, "received_at", "channel")
        day = local_day(received_at, tenant.zone)
        deltas = by_day.setdefault(day, {})
        if "outcome" in changes:
            old, new = changes["outcome"]
            if old != new:
                add_deltas(deltas, {outcome_col(old): -1, outcome_col(new): 1})
        if "answered_at" in changes:
            old, new = changes["answered_at"]
            moved = answer_deltas(received_at, old, -1)
            add_deltas(moved, answer_deltas(received_at, new, 1))
            add_deltas(deltas, moved)
            add_deltas(by_channel.setdefault((day, channel or "voice"), {}), moved)
    for day, deltas in by_day.items():
        await bump(session, tenant, day, deltas)
    for (day, channel), deltas in by_channel.items():
        await bump_channel(session, tenant, channel, day, deltas)


@subscribe("incident.opened")
async def on_incident_opened(session: AsyncSession, event: DomainEvent) -> None:
    tenant = event.tenant
    category_id, opened_at, source = await loaded(
        session, event.incident, "category_id", "opened_at", "handover_source"
    )
    day = local_day(opened_at, tenant.zone)
    if source == REGENCY_HANDOVER:  # the same emergency as the sender's incident: one hand-over
        await bump(session, tenant, day, {"handovers": 1})
        return
    await bump(session, tenant, day, {"incidents": 1})
    category = await session.get(Category, category_id)
    if category is not None:
        await bump_keyed(session, tenant, "category", category.code, day, 1)


@subscribe("incident.updated")
async def on_incident_updated(session: AsyncSession, event: DomainEvent) -> None:
    """A re-categorised incident moves its count to the new category."""
    change = (event.payload.get("changes") or {}).get("category_id")
    if not change or change[0] == change[1]:
        return
    tenant = event.tenant
    (opened_at,) = await loaded(session, event.incident, "opened_at")
    day = local_day(opened_at, tenant.zone)
    for category_id, sign in ((change[0], -1), (change[1], 1)):
        category = await session.get(Category, category_id) if category_id is not None else None
        if category is not None:
            await bump_keyed(session, tenant, "category", category.code, day, sign)


@subscribe("dispatch.created")
async def on_dispatch_created(session: AsyncSession, event: DomainEvent) -> None:
    tenant = event.tenant
    opd_id, sent_at = await loaded(session, event.dispatch, "opd_id", "sent_at")
    day = local_day(sent_at, tenant.zone)
    await bump(session, tenant, day, {"dispatches": 1})
    opd = await session.get(Opd, opd_id)
    if opd is not None:
        await bump_keyed(session, tenant, "opd", opd.type, day, 1)


OPD_SUBJECT = "dispatch"  # SLA clocks an OPD runs (app.sla.models.SUBJECTS)


@subscribe("sla.clock_closed", batch=True)
async def on_sla_clocks_closed(session: AsyncSession, batch: list[DomainEvent]) -> None:
    """Counted on the tenant-local day the clock stopped; a cancelled clock (met NULL) is not a
    measurement, and only OPD clocks (attached to a dispatch: acknowledge, arrival, resolution)
    count: the national figure is the OPDs' reaction, not the call centre's answer/dispatch times
    (the recount applies the same rules). One delta row per day of the batch."""
    tenant = batch[0].tenant
    by_day: dict = {}
    for event in batch:
        clock = event.payload.get("clock")
        stopped_at, met, subject = (
            (await loaded(session, clock, "stopped_at", "met", "subject"))
            if clock is not None
            else (None, False, OPD_SUBJECT)
        )
        if (clock is not None and met is None) or subject != OPD_SUBJECT:
            continue
        breached = bool(event.payload.get("breached"))
        add_deltas(
            by_day.setdefault(local_day(stopped_at, tenant.zone), {}),
            {"sla_breached" if breached else "sla_met": 1},
        )
    for day, deltas in by_day.items():
        await bump(session, tenant, day, deltas)
