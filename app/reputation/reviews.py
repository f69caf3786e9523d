"""Step 3 of the graduated scale: an operator asks a supervisor to review a caller; the supervisor
decides on a measure the scale allows (nothing, the watch list, a warning SMS).

Asking is one click on a ringing or active call and never waits for anyone: the call is answered
as any other. One open review per number (asking again, or two operators at once, joins the one
already waiting). A decision is taken once; each request and decision is audited and on the
call's history. Nothing here blocks, holds or re-routes a 112 call.
"""

from __future__ import annotations

from sqlalchemy import select
from sqlalchemy.dialects.postgresql import insert

from app.audit.service import record
from app.calls.models import Call
from app.calls.service import Ctx, finish, log_event
from app.core.clock import now
from app.core.errors import ConflictError, FieldErrors, InvalidInput, NotFoundError
from app.db import uow
from app.reputation import service
from app.reputation.models import REVIEW_DECISIONS, CallerReview
from app.reputation.warning import queue_warning
from app.telephony import service as telephony
from app.telephony import triage

NOTE_MAX = 500


async def request_review(ctx: Ctx, call_id: int, note: str = "") -> tuple[CallerReview, bool]:
    """The open review of this call's caller and whether this request created it; commits."""
    session = ctx.session
    note = (note or "").strip()
    if len(note) > NOTE_MAX:
        raise InvalidInput("note", f"Catatan paling banyak {NOTE_MAX} karakter")
    call = await session.get(Call, call_id)
    if call is None:
        raise NotFoundError(f"Panggilan #{call_id} tidak ditemukan")
    number = call.caller_number
    if not service.countable(number):
        raise InvalidInput("caller_number", "Nomor penelepon tidak diketahui: tidak dapat ditinjau")
    national = await service.national_record(session, str(number))
    local = (await triage.reputation(session, [str(number)])).get(str(number), 0)
    created = (
        await session.execute(
            insert(CallerReview)
            .values(
                call_id=call.id,
                caller_number=number,
                national_summary=service.summary(national)[:200],
                local_suspicious=local,
                note=note,
                requested_by=ctx.actor_id,
                status="open",
            )
            .on_conflict_do_nothing(
                index_elements=["caller_number"], index_where=CallerReview.status == "open"
            )
            .returning(CallerReview.id)
        )
    ).scalar_one_or_none()
    review = (
        await session.execute(
            select(CallerReview).where(CallerReview.caller_number == number, CallerReview.status == "open")
        )
    ).scalar_one()
    if created is not None:
        log_event(ctx, "call", call.id, "review_requested", {"review_id": review.id})
        await record(
            session,
            "reputation.review_requested",
            actor_id=ctx.actor_id,
            actor_label=ctx.actor_label,
            origin=ctx.origin,
            entity="caller_review",
            entity_id=review.id,
            after={"call_id": call.id, "note": note},
        )
    await uow.commit(session)
    return review, created is not None


async def open_reviews(session) -> list[dict]:
    """Oldest first, each with the caller's current local count and watch-list entry."""
    rows = list(
        (
            await session.execute(
                select(CallerReview).where(CallerReview.status == "open").order_by(CallerReview.requested_at)
            )
        )
        .scalars()
        .all()
    )
    numbers = [r.caller_number for r in rows]
    local = await triage.reputation(session, numbers)
    watched = await triage.watch_entries(session, numbers)
    return [
        {"review": r, "local_now": local.get(r.caller_number, 0), "watched": r.caller_number in watched}
        for r in rows
    ]


async def recent_decisions(session, limit: int = 20) -> list[CallerReview]:
    return list(
        (
            await session.execute(
                select(CallerReview)
                .where(CallerReview.status == "closed")
                .order_by(CallerReview.decided_at.desc())
                .limit(limit)
            )
        )
        .scalars()
        .all()
    )


async def decide(ctx: Ctx, review_id: int, decision: str, note: str = "") -> CallerReview:
    """Close an open review with one decision; commits. A warning SMS goes through the same
    outbox as the operator's button (one per call); the watch list only ever warns."""
    session = ctx.session
    note = (note or "").strip()
    errors = {}
    if decision not in REVIEW_DECISIONS:
        errors["decision"] = "Pilih salah satu keputusan"
    if len(note) > NOTE_MAX:
        errors["decision_note"] = f"Catatan paling banyak {NOTE_MAX} karakter"
    if decision == "watch_list" and not note:
        errors["decision_note"] = "Tulis alasan: operator melihatnya setiap kali nomor ini menelepon"
    if errors:
        raise FieldErrors(errors)
    review = (
        await session.execute(select(CallerReview).where(CallerReview.id == review_id).with_for_update())
    ).scalar_one_or_none()
    if review is None:
        raise NotFoundError(f"Tinjauan #{review_id} tidak ditemukan")
    if review.status != "open":
        raise ConflictError("Tinjauan ini sudah diputuskan")
    if decision == "watch_list":
        try:
            await telephony.watch_number(ctx, review.caller_number, note)
        except InvalidInput:
            pass  # on the list already (its earlier reason stays): the decision stands
    review.status, review.decision, review.decision_note = "closed", decision, note or None
    review.decided_by, review.decided_at = ctx.actor_id, now()
    await record(
        session,
        "reputation.review_decided",
        actor_id=ctx.actor_id,
        actor_label=ctx.actor_label,
        origin=ctx.origin,
        entity="caller_review",
        entity_id=review.id,
        after={"decision": decision, "note": note},
    )
    if review.call_id is not None:
        log_event(ctx, "call", review.call_id, "review_decided", {"decision": decision})
    if decision == "warning_sms":
        if review.call_id is None:
            raise InvalidInput("decision", "Panggilan asal sudah tidak ada: SMS tidak dapat dikirim")
        await queue_warning(ctx, review.call_id)  # commits the review with the SMS (or raises)
    else:
        await finish(ctx, "ringing")  # a new watch-list warning shows on the ringing panels
    return review
