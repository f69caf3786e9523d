"""Telephony workflow: integrator events → calls, console claims, AML positions, callbacks, watch list.

Events are applied by their OWN timestamps under the call's row lock, so arrival order does not
matter (an ``ended`` that overtakes its ``answered`` still yields one consistent call), and each
event id is accepted once (Redis SET NX for speed, a unique column for durability). The webhook's
events are applied in batches by ``app.telephony.intake`` with the merge rules defined here.
Call rows are written here only for the integrator path; history, audit, domain events and
live notices go through the call workflow's helpers (``app.calls.service``).
"""

from __future__ import annotations

import logging
import secrets as _secrets
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any

from sqlalchemy import (
    BigInteger,
    DateTime,
    Integer,
    String,
    and_,
    bindparam,
    column,
    false,
    func,
    or_,
    select,
    update,
)
from sqlalchemy.ext.asyncio import AsyncSession

from app import events, namespace
from app.audit.service import record
from app.auth.models import User
from app.calls.models import Call
from app.calls.service import Ctx, finish, log_event
from app.config import get_settings
from app.core.clock import now
from app.core.errors import ConflictError, InvalidInput, NotFoundError
from app.core.principal import Principal
from app.db.database import Database
from app.db.direct import Direct, recordset
from app.db.engine import make_async_engine
from app.location import sanity
from app.location.service import map_fixes, refresh_call_location
from app.telephony import aml, triage
from app.telephony.models import AmlLocation, CallbackTask, WatchEntry, WebhookSecret
from app.telephony.schemas import CallEventIn
from app.telephony.signing import secret_cache
from app.tenancy.registry import known_tenant

log = logging.getLogger(__name__)

INTEGRATOR = Principal(
    kind="token",
    user_id=None,
    role="integrator",
    name="Integrator telepon",
    scopes=frozenset({"telephony:webhook"}),
)
TRACKED = (
    "received_at",
    "answered_at",
    "transferred_at",
    "ended_at",
    "telephony_state",
    "outcome",
    "silent_suspected",
    "operator_extension",
    "operator_id",
    "location_lat",
    "location_lon",
    "location_radius_m",
)
SECRET_GRACE = timedelta(minutes=15)
REPLAY_TTL_S = 900  # longer than the 5-minute timestamp window + clock skew
RINGING_VISIBLE = timedelta(hours=1)  # a "ringing" call with no later event is stale after this
AML_CALL_WINDOW = timedelta(minutes=30)
AML_EARLY_WINDOW = timedelta(minutes=2)  # an AML may overtake the call's ringing event


class Replay(ConflictError):
    pass


@dataclass
class EventResult:
    """How one event left its call: ``call`` is a read-only snapshot with the Call columns as
    attributes (batched intake answers each event with the call as it stood after it)."""

    call: Any
    created: bool
    changes: dict


# --- replay protection ---------------------------------------------------------------------------


def _replay_key(slug: str, event_id: str, redis=None) -> str:
    return namespace.key(redis, "tel", "evt", slug, event_id)


# --- integrator call events ----------------------------------------------------------------------


def derive_state(call: Call) -> str:
    if call.ended_at is not None:
        return "ended" if call.answered_at is not None else "missed"
    if call.transferred_at is not None:
        return "transferred"
    if call.answered_at is not None:
        return "answered"
    return "ringing"


def _earliest(current: datetime | None, new: datetime) -> datetime:
    return new if current is None or new < current else current


def _merge(call: Call, ev: CallEventIn) -> None:
    ts = ev.occurred_at
    call.received_at = _earliest(call.received_at, ts)  # the call existed at least since then
    if ev.type == "answered":
        call.answered_at = _earliest(call.answered_at, ts)
        call.operator_extension = ev.operator_extension or call.operator_extension
    elif ev.type == "transferred":
        call.transferred_at = _earliest(call.transferred_at, ts)
        call.answered_at = call.answered_at or ts  # a call is answered before it is transferred
        call.operator_extension = ev.operator_extension or call.operator_extension
    elif ev.type == "ended":
        call.ended_at = _earliest(call.ended_at, ts)
    if call.caller_number is None and ev.caller_number is not None:
        # A later event delivered the number the first one lacked.
        call.caller_number, call.caller_number_raw, call.number_unavailable = (
            ev.caller_number,
            ev.caller_number_raw,
            False,
        )
    call.imei = call.imei or ev.imei
    call.imsi = call.imsi or ev.imsi
    call.called_number = call.called_number or ev.called_number
    call.trunk = call.trunk or ev.trunk
    call.telephony_state = derive_state(call)
    triage.apply_silent_flag(call)


# --- the operator's "Angkat" -------------------------------------------------------------------


async def claim(ctx: Ctx, call_id: int) -> Call:
    """Exactly one operator wins a ringing call: a conditional UPDATE, re-checked under the row
    lock, so a concurrent second claim matches no row and gets a ConflictError."""
    session = ctx.session
    stmt = (
        select(Call)
        .from_statement(
            update(Call)
            .where(Call.id == call_id, Call.operator_id.is_(None), Call.ended_at.is_(None))
            .values(operator_id=ctx.actor_id)
            .returning(Call)
        )
        .execution_options(populate_existing=True)
    )
    call = (await session.execute(stmt)).scalar_one_or_none()
    if call is None:
        await session.rollback()
        current = (await session.execute(select(Call).where(Call.id == call_id))).scalar_one_or_none()
        if current is None:
            raise NotFoundError(f"Panggilan #{call_id} tidak ditemukan")
        if current.operator_id == ctx.actor_id:
            return current  # a double click by the same operator
        if current.operator_id is not None:
            who = await session.get(User, current.operator_id)
            name = who.full_name if who else f"operator #{current.operator_id}"
            raise ConflictError(f"Panggilan ini sudah diangkat oleh {name}")
        raise ConflictError("Panggilan ini sudah berakhir sebelum diangkat")
    before_state, before_answered = call.telephony_state, call.answered_at
    call.answered_at = call.answered_at or now()
    if call.telephony_state is not None:
        call.telephony_state = derive_state(call)
    changes = {"operator_id": (None, ctx.actor_id)}
    if call.answered_at != before_answered:
        changes["answered_at"] = (before_answered, call.answered_at)
    if call.telephony_state != before_state:
        changes["telephony_state"] = (before_state, call.telephony_state)
    log_event(ctx, "call", call.id, "claimed", {"operator_id": ctx.actor_id})
    await session.flush()
    await record(
        session,
        "call.claimed",
        actor_id=ctx.actor_id,
        actor_label=ctx.actor_label,
        origin=ctx.origin,
        entity="call",
        entity_id=call.id,
        after={"operator_id": ctx.actor_id},
    )
    await events.emit(session, "call.updated", ctx.tenant, actor_id=ctx.actor_id, call=call, changes=changes)
    await finish(ctx, "ringing", "calls")
    return call


# --- console queries ---------------------------------------------------------------------------


async def ringing_calls(session: AsyncSession, limit: int = 50) -> list[Call]:
    rows = await session.execute(
        select(Call)
        .where(
            Call.telephony_state == "ringing",
            Call.operator_id.is_(None),
            Call.received_at >= now() - RINGING_VISIBLE,
        )
        .order_by(Call.received_at)
        .limit(limit)
    )
    return list(rows.scalars().all())


async def my_live_calls(session: AsyncSession, user_id: int) -> list[Call]:
    rows = await session.execute(
        select(Call)
        .where(
            Call.operator_id == user_id,
            Call.ended_at.is_(None),
            Call.external_id.is_not(None),
            Call.received_at >= now() - timedelta(hours=12),
        )
        .order_by(Call.received_at.desc())
        .limit(10)
    )
    return list(rows.scalars().all())


async def annotate(session: AsyncSession, calls: list[Call]) -> list[dict]:
    """Each call with its caller's 30-day prank/silent count and watch-list entry (two queries)."""
    numbers = [c.caller_number for c in calls if c.caller_number is not None]
    rep = await triage.reputation(session, numbers)
    watch = await triage.watch_entries(session, numbers)
    out = []
    for c in calls:
        count, entry = rep.get(c.caller_number, 0), watch.get(c.caller_number)  # type: ignore[arg-type]
        out.append(
            {
                "call": c,
                "prank_count": count,
                "watch": entry,
                "level": triage.warning_level(count, entry is not None),
            }
        )
    return out


# --- AML -----------------------------------------------------------------------------------------


def _same_handset(model, number: str | None, imei: str | None, imsi: str | None):
    """Match by number, IMEI or IMSI, whichever are known: a call without a SIM or with a
    withheld number is found by its handset identity (AML carries IMEI and IMSI)."""
    conds = [
        col == value
        for col, value in ((model.caller_number, number), (model.imei, imei), (model.imsi, imsi))
        if value
    ]
    return or_(*conds) if conds else false()


def _early_aml_statement():
    """ONE statement for a batch's new calls: every unattached position of the last minutes whose
    number, IMEI or IMSI (whichever the call knows) is the call's goes to it; a position that two
    calls of the batch share goes to the earlier one, as attaching them one by one would."""
    loc = AmlLocation.__table__
    calls = recordset(
        "calls",
        column("id", BigInteger),
        column("ord", Integer),
        column("caller_number", String),
        column("imei", String),
        column("imsi", String),
    )

    def same(col, value):
        return and_(func.nullif(value, "").is_not(None), col == value)

    match = (
        select(loc.c.id.label("aml_id"), calls.c.id.label("call_id"))
        .distinct(loc.c.id)
        .where(
            loc.c.call_id.is_(None),
            loc.c.received_at >= bindparam("since", type_=DateTime(timezone=True)),
            or_(
                same(loc.c.caller_number, calls.c.caller_number),
                same(loc.c.imei, calls.c.imei),
                same(loc.c.imsi, calls.c.imsi),
            ),
        )
        .order_by(loc.c.id, calls.c.ord)
        .subquery("m")
    )
    return (
        update(loc)
        .where(loc.c.id == match.c.aml_id)
        .values(call_id=match.c.call_id)
        .returning(loc.c.id, loc.c.call_id, loc.c.lat, loc.c.positioned_at, loc.c.flags)
    )


_EARLY_AML = Direct(_early_aml_statement)


async def attach_early_aml(session: AsyncSession, calls: list[Call]) -> None:
    """Positions that arrived before their call's first event (SMS can be faster than signalling),
    for a batch of new calls in one round trip; one taken well before the call began is flagged
    ``before_call`` now that the call is known, and the call's position re-derived."""
    if not calls:
        return
    rows = await _EARLY_AML.all(
        session,
        {
            "calls": [
                {"id": c.id, "ord": n, "caller_number": c.caller_number, "imei": c.imei, "imsi": c.imsi}
                for n, c in enumerate(calls)
            ],
            "since": now() - AML_EARLY_WINDOW,
        },
    )
    by_call: dict[int, list] = {}
    for r in rows:
        by_call.setdefault(r.call_id, []).append(r)
    for call in calls:
        mine = by_call.get(call.id, [])
        if not any(r.lat is not None for r in mine):
            continue
        for r in mine:
            stale = r.positioned_at < call.received_at - sanity.BEFORE_CALL_TOLERANCE
            if stale and sanity.BEFORE_CALL not in r.flags:
                await session.execute(
                    update(AmlLocation)
                    .where(AmlLocation.id == r.id)
                    .values(flags=[*r.flags, sanity.BEFORE_CALL])
                )
        await refresh_call_location(session, call)


async def ingest_aml(ctx: Ctx, caller_number: str | None, text: str) -> tuple[AmlLocation, Call | None]:
    """Parse strictly (AmlError → 422 at the edge), check plausibility, store, and re-derive the
    live call's position from all its fixes (a flagged fix is stored and shown, never chosen).
    The live call is found by number, IMEI or IMSI: a call without a usable number still gets
    its position."""
    msg = aml.parse(text)
    session = ctx.session
    call = (
        await session.execute(
            select(Call)
            .where(
                _same_handset(Call, caller_number, msg.imei, msg.imsi),
                Call.telephony_state.in_(("ringing", "answered", "transferred")),
                Call.received_at >= now() - AML_CALL_WINDOW,
            )
            .order_by(Call.received_at.desc())
            .limit(1)
            .with_for_update()
        )
    ).scalar_one_or_none()
    flags = sanity.check(
        positioned_at=msg.positioned_at,
        received_at=now(),
        call_started_at=call.received_at if call else None,
        lat=msg.lat,
        lon=msg.lon,
        region_code=ctx.region_code,
    )
    if flags:
        log.warning("AML fix for …%s flagged: %s", (caller_number or "?")[-4:], ",".join(flags))
    loc = AmlLocation(
        call_id=call.id if call else None,
        caller_number=caller_number,
        lat=msg.lat,
        lon=msg.lon,
        radius_m=msg.radius_m,
        positioned_at=msg.positioned_at,
        confidence=msg.confidence,
        method=msg.method,
        imsi=msg.imsi,
        imei=msg.imei,
        mcc=msg.mcc,
        mnc=msg.mnc,
        raw=text,
        flags=flags,
    )
    session.add(loc)
    topics = []
    if call is not None and msg.has_position:
        await session.flush()
        changes = await refresh_call_location(session, call)
        log_event(
            ctx,
            "call",
            call.id,
            "location",
            {
                "source": "aml",
                "lat": msg.lat,
                "lon": msg.lon,
                "radius_m": msg.radius_m,
                "method": msg.method,
                "confidence": msg.confidence,
                "flags": flags,
            },
        )
        if changes:
            await events.emit(session, "call.updated", ctx.tenant, call=call, changes=changes)
        topics = ["location", "ringing"]
    await finish(ctx, *topics)
    return loc, call


async def call_locations(session: AsyncSession, call_ids: list[int]) -> list[dict]:
    """Every fix (AML and location link) of these calls for the map, the chosen one marked."""
    return await map_fixes(session, call_ids)


# --- callback tasks ------------------------------------------------------------------------------


async def callback_tasks(session: AsyncSession, status: str = "open", limit: int = 200) -> list[tuple]:
    rows = await session.execute(
        select(CallbackTask, Call)
        .join(Call, Call.id == CallbackTask.call_id)
        .where(CallbackTask.status == status)
        .order_by(CallbackTask.created_at.desc() if status != "open" else CallbackTask.created_at)
        .limit(limit)
    )
    return [tuple(row) for row in rows.all()]


async def complete_callback(ctx: Ctx, task_id: int, note: str | None) -> CallbackTask:
    task = (
        await ctx.session.execute(select(CallbackTask).where(CallbackTask.id == task_id).with_for_update())
    ).scalar_one_or_none()
    if task is None:
        raise NotFoundError(f"Tugas telepon balik #{task_id} tidak ditemukan")
    if task.status != "open":
        raise ConflictError("Tugas telepon balik ini sudah selesai atau dibatalkan")
    task.status, task.done_at, task.done_by, task.note = "done", now(), ctx.actor_id, note
    log_event(ctx, "call", task.call_id, "callback_done", {"task_id": task.id, "note": note})
    await record(
        ctx.session,
        "callback.done",
        actor_id=ctx.actor_id,
        actor_label=ctx.actor_label,
        origin=ctx.origin,
        entity="callback_task",
        entity_id=task.id,
        after={"note": note},
    )
    await finish(ctx, "callbacks")
    return task


# --- watch list (supervisors) ----------------------------------------------------------------------


async def watch_list(session: AsyncSession) -> list[dict]:
    entries = list(
        (
            await session.execute(
                select(WatchEntry)
                .where(WatchEntry.removed_at.is_(None))
                .order_by(WatchEntry.created_at.desc())
            )
        )
        .scalars()
        .all()
    )
    rep = await triage.reputation(session, [e.caller_number for e in entries])
    return [{"entry": e, "prank_count": rep.get(e.caller_number, 0)} for e in entries]


async def add_watch(ctx: Ctx, number: str, reason: str) -> WatchEntry:
    entry = await watch_number(ctx, number, reason)
    await finish(ctx, "ringing")
    return entry


async def watch_number(ctx: Ctx, number: str, reason: str) -> WatchEntry:
    """Put a number on the watch list, audited, not committed (a supervisor's review decision
    commits it with the review). InvalidInput when it is on the list already."""
    exists = (
        await ctx.session.execute(
            select(WatchEntry.id).where(WatchEntry.caller_number == number, WatchEntry.removed_at.is_(None))
        )
    ).scalar_one_or_none()
    if exists is not None:
        raise InvalidInput("caller_number", "Nomor ini sudah ada di daftar pantauan")
    entry = WatchEntry(caller_number=number, reason=reason, created_by=ctx.actor_id)
    ctx.session.add(entry)
    await ctx.session.flush()
    await record(
        ctx.session,
        "watch.added",
        actor_id=ctx.actor_id,
        actor_label=ctx.actor_label,
        origin=ctx.origin,
        entity="watch_entry",
        entity_id=entry.id,
        after={"caller_number": number, "reason": reason},
    )
    return entry


async def remove_watch(ctx: Ctx, entry_id: int) -> None:
    entry = (
        await ctx.session.execute(
            select(WatchEntry)
            .where(WatchEntry.id == entry_id, WatchEntry.removed_at.is_(None))
            .with_for_update()
        )
    ).scalar_one_or_none()
    if entry is None:
        raise NotFoundError("Entri daftar pantauan tidak ditemukan")
    entry.removed_at, entry.removed_by = now(), ctx.actor_id
    await record(
        ctx.session,
        "watch.removed",
        actor_id=ctx.actor_id,
        actor_label=ctx.actor_label,
        origin=ctx.origin,
        entity="watch_entry",
        entity_id=entry.id,
        before={"caller_number": entry.caller_number, "reason": entry.reason},
    )
    await finish(ctx, "ringing")


# --- webhook secrets (admins) ----------------------------------------------------------------------


async def secret_status(session: AsyncSession) -> list[WebhookSecret]:
    at = now()
    rows = await session.execute(
        select(WebhookSecret)
        .where((WebhookSecret.valid_until.is_(None)) | (WebhookSecret.valid_until > at))
        .order_by(WebhookSecret.created_at.desc())
    )
    return list(rows.scalars().all())


async def rotate_secret(ctx: Ctx, grace: timedelta = SECRET_GRACE) -> str:
    """A new active secret; the previous one stays valid for ``grace``, older ones stop now."""
    session = ctx.session
    at = now()
    valid = list(
        (
            await session.execute(
                select(WebhookSecret)
                .where((WebhookSecret.valid_until.is_(None)) | (WebhookSecret.valid_until > at))
                .with_for_update()
            )
        )
        .scalars()
        .all()
    )
    for old in valid:
        old.valid_until = at + grace if old.valid_until is None else min(old.valid_until, at)
    value = _secrets.token_hex(32)
    session.add(WebhookSecret(secret=value, created_by=ctx.actor_id))
    await session.flush()
    await record(
        session,
        "telephony.secret_rotated",
        actor_id=ctx.actor_id,
        actor_label=ctx.actor_label,
        origin=ctx.origin,
        entity="telephony_secret",
        after={"grace_s": int(grace.total_seconds()), "previous": len(valid)},
    )
    await finish(ctx)
    secret_cache.invalidate(ctx.slug)
    return value


async def active_secret(session: AsyncSession) -> str | None:
    return (
        await session.execute(
            select(WebhookSecret.secret)
            .where(WebhookSecret.valid_until.is_(None))
            .order_by(WebhookSecret.id.desc())
            .limit(1)
        )
    ).scalar_one_or_none()


async def tenant_secret(database_url: str, slug: str) -> str:
    """The tenant's active webhook secret, created if it has none (demo, the gateway simulator
    and benchmarks only: it opens an engine of its own on ``database_url``)."""
    engine = make_async_engine(get_settings(), url=database_url, pool_size=1)
    db = Database(engine)
    try:
        async with db.tenant(slug) as session:
            secret = await active_secret(session)
            if secret is None:
                actor = Principal(kind="tenant", user_id=None, role="admin", name="simulator")
                tenant = await known_tenant(session, slug)
                secret = await rotate_secret(Ctx(session=session, tenant=tenant, actor=actor))
            return secret
    finally:
        await engine.dispose()
