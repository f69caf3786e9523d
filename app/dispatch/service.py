"""Dispatching incidents to agencies (OPD) and each dispatch's lifecycle.

sent → acknowledged → en_route → on_scene → resolved; ``rejected`` (with a reason) hands it
back to the operator. Transitions are validated here and guarded by ``Dispatch.version`` so a
click on a stale card gets a 409 instead of overwriting a newer state.
"""

from __future__ import annotations

from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession

from app import events, glossary
from app.audit.service import record, snapshot
from app.calls import idempotency
from app.calls.models import Incident
from app.calls.service import Ctx, columns, finish, get_incident, log_event
from app.core.clock import now
from app.core.errors import ConflictError, DeniedError, InvalidInput, NotFoundError
from app.dispatch.models import Category, CategoryOpd, Dispatch, Opd
from app.dispatch.schemas import DispatchCreate, DispatchTransition

ACTIVE = ("sent", "acknowledged", "en_route", "on_scene")
TERMINAL = ("resolved", "rejected")
# Forward moves an agency may make; 'sent' must be acknowledged (the SLA reaction) first.
TRANSITIONS: dict[str, tuple[str, ...]] = {
    "sent": ("acknowledged", "rejected"),
    "acknowledged": ("en_route", "on_scene", "resolved", "rejected"),
    "en_route": ("on_scene", "resolved"),
    "on_scene": ("resolved",),
}
NEXT_STEP = {
    "sent": "acknowledged",
    "acknowledged": "en_route",
    "en_route": "on_scene",
    "on_scene": "resolved",
}
STATUS_LABELS = glossary.DISPATCH_STATUS
ACTION_LABELS = glossary.DISPATCH_ACTION
TIMESTAMP = {
    "acknowledged": "acknowledged_at",
    "en_route": "en_route_at",
    "on_scene": "on_scene_at",
    "resolved": "resolved_at",
    "rejected": "rejected_at",
}


async def suggested_opds(session: AsyncSession, category_id: int) -> list[Opd]:
    """The agencies the tenant routes this category to (configurable per tenant)."""
    return list(
        (
            await session.execute(
                select(Opd)
                .join(CategoryOpd, CategoryOpd.opd_id == Opd.id)
                .where(CategoryOpd.category_id == category_id, Opd.is_active.is_(True))
                .order_by(Opd.id)
            )
        )
        .scalars()
        .all()
    )


async def list_opds(session: AsyncSession, active_only: bool = True) -> list[Opd]:
    stmt = select(Opd).order_by(Opd.name)
    if active_only:
        stmt = stmt.where(Opd.is_active.is_(True))
    return list((await session.execute(stmt)).scalars().all())


async def list_categories(session: AsyncSession) -> list[dict]:
    cats = (
        (
            await session.execute(
                select(Category)
                .where(Category.is_active.is_(True))
                .order_by(Category.sort_order, Category.name)
            )
        )
        .scalars()
        .all()
    )
    routes: dict[int, list[int]] = {}
    for cid, oid in (await session.execute(select(CategoryOpd.category_id, CategoryOpd.opd_id))).all():
        routes.setdefault(cid, []).append(oid)
    return [
        {
            "id": c.id,
            "code": c.code,
            "name": c.name,
            "default_priority": c.default_priority,
            "opd_ids": sorted(routes.get(c.id, [])),
        }
        for c in cats
    ]


async def dispatch_incident(ctx: Ctx, incident_id: int, data: DispatchCreate) -> list[Dispatch]:
    """One dispatch per agency; an agency already working on it is a conflict, a rejected one may be re-sent."""
    incident = await get_incident(ctx.session, incident_id, lock=True)
    if incident.status != "open":
        raise ConflictError(f"Insiden #{incident.id} sudah ditutup")
    opds = {
        o.id: o
        for o in (await ctx.session.execute(select(Opd).where(Opd.id.in_(data.opd_ids)))).scalars().all()
    }
    for oid in data.opd_ids:
        if oid not in opds or not opds[oid].is_active:
            raise InvalidInput("opd_ids", f"OPD #{oid} tidak dikenal atau tidak aktif")
    busy = (
        (
            await ctx.session.execute(
                select(Dispatch.opd_id).where(
                    Dispatch.incident_id == incident.id,
                    Dispatch.opd_id.in_(data.opd_ids),
                    Dispatch.status.in_(ACTIVE),
                )
            )
        )
        .scalars()
        .all()
    )
    if busy:
        names = ", ".join(opds[o].name for o in busy)
        raise ConflictError(f"Sudah dikirim dan masih berjalan: {names}")
    created = []
    for oid in data.opd_ids:
        d = Dispatch(incident_id=incident.id, opd_id=oid, status="sent", sent_by=ctx.actor_id, version=1)
        ctx.session.add(d)
        created.append(d)
    await ctx.session.flush()
    for d in created:
        log_event(
            ctx,
            "dispatch",
            d.id,
            "sent",
            {"incident_id": incident.id, "opd_id": d.opd_id, "opd_code": opds[d.opd_id].code},
        )
        await record(
            ctx.session,
            "dispatch.created",
            actor_id=ctx.actor_id,
            actor_label=ctx.actor_label,
            origin=ctx.origin,
            entity="dispatch",
            entity_id=d.id,
            after=snapshot(d),
        )
    log_event(ctx, "incident", incident.id, "dispatched", {"opd_ids": data.opd_ids})
    for d in created:
        await events.emit(
            ctx.session, "dispatch.created", ctx.tenant, actor_id=ctx.actor_id, dispatch=d, incident=incident
        )
    await idempotency.remember(
        ctx.session, dispatch_scope(incident.id), ctx.idempotency_key, [d.id for d in created]
    )
    await finish(ctx, "dispatches", "incidents")
    return created


def dispatch_scope(incident_id: int) -> str:
    return f"dispatch:{incident_id}"


async def get_dispatch(session: AsyncSession, dispatch_id: int, *, lock: bool = False) -> Dispatch:
    stmt = select(Dispatch).where(Dispatch.id == dispatch_id)
    if lock:
        stmt = stmt.with_for_update()
    d = (await session.execute(stmt)).scalar_one_or_none()
    if d is None:
        raise NotFoundError(f"Penugasan #{dispatch_id} tidak ditemukan")
    return d


def visible_to(actor, d: Dispatch) -> bool:
    """Agency staff (and agency-bound tokens) only ever see their own agency's dispatches."""
    if actor.role == "opd_staff" or (actor.kind == "token" and actor.opd_id is not None):
        return actor.opd_id == d.opd_id
    return True


async def get_visible_dispatch(ctx_or_session, actor, dispatch_id: int, *, lock: bool = False) -> Dispatch:
    session = getattr(ctx_or_session, "session", ctx_or_session)
    d = await get_dispatch(session, dispatch_id, lock=lock)
    if not visible_to(actor, d):
        raise NotFoundError(f"Penugasan #{dispatch_id} tidak ditemukan")
    return d


async def transition(ctx: Ctx, dispatch_id: int, data: DispatchTransition) -> Dispatch:
    actor = ctx.actor
    if actor.role != "opd_staff" and actor.token_kind != "service":
        raise DeniedError("Hanya petugas OPD yang dapat memperbarui status dispatch")
    d = await get_visible_dispatch(ctx, actor, dispatch_id, lock=True)
    if data.version is not None and data.version != d.version:
        raise ConflictError(
            f"Status dispatch sudah berubah menjadi '{STATUS_LABELS[d.status]}' "
            "oleh orang lain; muat ulang dan coba lagi"
        )
    old, new = d.status, data.status
    if new not in TRANSITIONS.get(old, ()):
        raise ConflictError(
            f"Tidak bisa mengubah status dari '{STATUS_LABELS[old]}' ke '{STATUS_LABELS[new]}'"
        )
    before = snapshot(d)
    at = now()
    d.status = new
    setattr(d, TIMESTAMP[new], at)
    if new != "rejected" and d.acknowledged_at is None:
        d.acknowledged_at = at  # reaching a later step implies the agency reacted
    if new == "rejected":
        d.reject_reason = data.reason
    d.version += 1
    d.updated_at = at
    await ctx.session.flush()
    log_event(
        ctx,
        "dispatch",
        d.id,
        f"status:{new}",
        {"old": old, "new": new, "reason": data.reason, "incident_id": d.incident_id},
    )
    await record(
        ctx.session,
        f"dispatch.{new}",
        actor_id=ctx.actor_id,
        actor_label=ctx.actor_label,
        origin=ctx.origin,
        entity="dispatch",
        entity_id=d.id,
        before=before,
        after=snapshot(d),
    )
    await events.emit(
        ctx.session,
        "dispatch.status_changed",
        ctx.tenant,
        actor_id=ctx.actor_id,
        dispatch=d,
        old=old,
        new=new,
    )
    await finish(ctx, "dispatches", "incidents")
    return d


async def opd_queue(session: AsyncSession, opd_id: int, *, include_done_hours: int = 12) -> list[dict]:
    """An agency's open work (oldest first), plus what it finished recently for context."""
    from datetime import timedelta

    since = now() - timedelta(hours=include_done_hours)
    rows = (
        await session.execute(
            select(Dispatch, Incident, Category.name, Opd.code, Opd.name)
            .join(Incident, Incident.id == Dispatch.incident_id)
            .join(Category, Category.id == Incident.category_id)
            .join(Opd, Opd.id == Dispatch.opd_id)
            .where(Dispatch.opd_id == opd_id, (Dispatch.status.in_(ACTIVE)) | (Dispatch.updated_at >= since))
            .order_by((Dispatch.status.in_(TERMINAL)), Incident.priority, Dispatch.sent_at)
            .limit(200)
        )
    ).all()
    return [
        {"dispatch": d, "incident": i, "category_name": cname, "opd_code": ocode, "opd_name": oname}
        for d, i, cname, ocode, oname in rows
    ]


async def dispatch_out(session: AsyncSession, d: Dispatch) -> dict:
    opd = await session.get_one(Opd, d.opd_id)
    return {**columns(d), "opd_code": opd.code, "opd_name": opd.name}
