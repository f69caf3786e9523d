"""Starts and stops SLA clocks from the call workflow's domain events, in the same transaction.

answer       call rings (received_at)        → call answered
dispatch     incident opened (call answered) → first dispatch sent
acknowledge  dispatch sent                   → OPD acknowledged (or any later status)
arrival      dispatch sent                   → on scene
resolution   dispatch sent                   → resolved
A rejected dispatch counts as acknowledged; its arrival/resolution clocks are cancelled. Closing
an incident cancels whatever is still open for it.
"""

from __future__ import annotations

from app.core import clock
from app.db.loading import ensure_loaded
from app.events import DomainEvent, subscribe
from app.sla.service import retarget_open_clocks, start_clock, start_clocks, stop_clocks, stop_clocks_many

# Calls are unclassified while ringing: the answer target is taken from the P1 policy.
ANSWER_PRIORITY = 1


@subscribe("call.created", batch=True)
async def calls_created(session, batch: list[DomainEvent]) -> None:
    """One answer clock per call, all in one round trip (intake logs calls in batches); calls
    created already answered or ended (batched telephony events) stop theirs in one more."""
    for event in batch:
        await ensure_loaded(session, event.call, "received_at", "answered_at", "ended_at")
    await start_clocks(
        session,
        batch[0].tenant,
        [
            dict(
                kind="answer",
                subject="call",
                subject_id=e.call.id,
                started_at=e.call.received_at,
                priority=ANSWER_PRIORITY,
                category_id=None,
                call_id=e.call.id,
            )
            for e in batch
        ],
    )
    await _calls_progress(session, batch)


@subscribe("call.updated", batch=True)
async def calls_updated(session, batch: list[DomainEvent]) -> None:
    for event in batch:
        await ensure_loaded(session, event.call, "answered_at", "ended_at")
    await _calls_progress(session, batch)


async def _calls_progress(session, batch: list[DomainEvent]) -> None:
    """Answered: the answer clock stops (done) at the answer; ended unanswered: it is cancelled."""
    stops = []
    for event in batch:
        call = event.call
        if call.answered_at is not None:
            stops.append(dict(at=call.answered_at, reason="done", actor_id=event.actor_id))
        elif call.ended_at is not None:  # abandoned before it was answered
            stops.append(dict(at=call.ended_at, reason="cancelled", actor_id=None))
        else:
            continue
        stops[-1].update(kind="answer", subject="call", subject_id=call.id)
    await stop_clocks_many(session, batch[0].tenant, stops)


@subscribe("incident.opened")
async def incident_opened(session, event: DomainEvent) -> None:
    incident, call = event.incident, event.payload.get("call")
    await ensure_loaded(session, incident, "opened_at", "priority", "category_id")
    started = incident.opened_at
    if call is not None:
        await ensure_loaded(session, call, "received_at", "answered_at")
        started = call.answered_at or call.received_at or started
    await start_clock(
        session,
        event.tenant,
        kind="dispatch",
        subject="incident",
        subject_id=incident.id,
        started_at=started,
        priority=incident.priority,
        category_id=incident.category_id,
        call_id=call.id if call is not None else None,
        incident_id=incident.id,
    )


@subscribe("incident.updated")
async def incident_updated(session, event: DomainEvent) -> None:
    incident, changes = event.incident, event.changes or {}
    await ensure_loaded(session, incident, "status", "closed_at", "priority", "category_id")
    if incident.status == "closed":
        await stop_clocks(
            session,
            event.tenant,
            incident.closed_at or clock.now(),
            reason="cancelled",
            incident_id=incident.id,
        )
    elif "priority" in changes or "category_id" in changes:
        await retarget_open_clocks(
            session, event.tenant, incident.id, incident.priority, incident.category_id
        )


@subscribe("dispatch.created")
async def dispatch_created(session, event: DomainEvent) -> None:
    d, incident = event.dispatch, event.incident
    await ensure_loaded(session, d, "sent_at")
    await ensure_loaded(session, incident, "priority", "category_id")
    await stop_clocks(
        session,
        event.tenant,
        d.sent_at,
        actor_id=event.actor_id,
        kind="dispatch",
        subject="incident",
        subject_id=incident.id,
    )
    for kind in ("acknowledge", "arrival", "resolution"):
        await start_clock(
            session,
            event.tenant,
            kind=kind,
            subject="dispatch",
            subject_id=d.id,
            started_at=d.sent_at,
            priority=incident.priority,
            category_id=incident.category_id,
            incident_id=incident.id,
            dispatch_id=d.id,
            opd_id=d.opd_id,
        )
    if d.status != "sent":  # created already further along (e.g. logged after the fact)
        await _dispatch_progress(session, event, d)


@subscribe("dispatch.status_changed")
async def dispatch_status_changed(session, event: DomainEvent) -> None:
    await _dispatch_progress(session, event, event.dispatch)


async def _dispatch_progress(session, event: DomainEvent, d) -> None:
    await ensure_loaded(
        session, d, "status", "acknowledged_at", "en_route_at", "on_scene_at", "resolved_at", "rejected_at"
    )
    status = d.status
    now = clock.now()

    def stop(at, **kw):
        return stop_clocks(
            session,
            event.tenant,
            at or now,
            actor_id=event.actor_id,
            subject="dispatch",
            subject_id=d.id,
            **kw,
        )

    # The first sign of life from the OPD (any later status) is its acknowledgement.
    first_response = d.acknowledged_at or d.rejected_at or d.en_route_at or d.on_scene_at or d.resolved_at
    if status in ("acknowledged", "en_route", "on_scene", "resolved", "rejected"):
        await stop(first_response, kind="acknowledge")
    if status in ("on_scene", "resolved"):
        await stop(d.on_scene_at or d.resolved_at, kind="arrival")
    if status == "resolved":
        await stop(d.resolved_at, kind="resolution")
    if status == "rejected":
        await stop_clocks(
            session,
            event.tenant,
            d.rejected_at or now,
            reason="cancelled",
            subject="dispatch",
            subject_id=d.id,
        )
