"""The call-centre workflow on calls and incidents: validate, write, log, emit, commit, notify.

Every change goes the same way (``_finish``): an append-only EventLog row (who/when/what), an
audit row for state changes, the domain events of app.events (handlers of other domains write
in the same transaction), one commit, then a live notice so every console refreshes.
Services take a ``Ctx`` (tenant-bound session + who is acting), never an HTTP request.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import datetime, timedelta
from typing import Any

from sqlalchemy import Integer, Sequence, String, and_, bindparam, column, func, insert, literal, or_, select
from sqlalchemy.dialects.postgresql import ARRAY, JSONB
from sqlalchemy.dialects.postgresql import insert as pg_insert
from sqlalchemy.ext.asyncio import AsyncSession

from app import events, live
from app.audit.service import record, snapshot
from app.calls import idempotency
from app.calls.models import Call, EventLog, Incident
from app.calls.schemas import AttachCall, CallCorrection, CallCreate, IncidentCreate, IncidentUpdate
from app.core.clock import now
from app.core.errors import ConflictError, InvalidInput, NotFoundError
from app.core.json import jsonable
from app.core.origin import Origin
from app.core.principal import Principal
from app.core.tenant import TenantInfo
from app.db import uow
from app.db.base import TENANT_SCHEMA
from app.db.direct import Direct, columns_of, recordset
from app.dispatch.models import Category, Dispatch, Opd
from app.tenancy.regions import districts

CALL_FIELDS = (
    "caller_number",
    "channel",
    "language",
    "outcome",
    "duplicate_of_id",
    "answered_at",
    "ended_at",
    "notes",
)
INCIDENT_FIELDS = (
    "category_id",
    "priority",
    "address",
    "kecamatan",
    "kelurahan",
    "lat",
    "lon",
    "description",
    "people_involved",
    "status",
)
NEARBY_RADIUS_M = 1000
NEARBY_WINDOW_MIN = 60
EARTH_RADIUS_M = 6_371_000


@dataclass
class Ctx:
    """Who acts, in which tenant; ``redis`` (optional) carries live notices to consoles."""

    session: AsyncSession
    tenant: TenantInfo
    actor: Principal
    redis: Any = None
    origin: Origin | None = None  # where the action came from (audit trail)
    topics: set[str] = field(default_factory=set)
    idempotency_key: str | None = None  # the client's retry key (app.calls.idempotency)

    @property
    def slug(self) -> str:
        return self.tenant.slug

    @property
    def region_code(self) -> str:
        return self.tenant.region_code

    @property
    def actor_id(self) -> int | None:
        return self.actor.user_id

    @property
    def actor_label(self) -> str:
        return self.actor.label


def log_event(ctx: Ctx, entity: str, entity_id: int, kind: str, data: dict | None = None) -> None:
    """Queue an append-only history row (flushed with the transaction)."""
    ctx.session.add(
        EventLog(
            entity=entity,
            entity_id=entity_id,
            kind=kind,
            actor_id=ctx.actor_id,
            actor_label=ctx.actor_label,
            data=jsonable(data or {}),
        )
    )


async def finish(ctx: Ctx, *topics: str) -> None:
    """Commit, then tell consoles which fragments changed."""
    await _commit_and_notify(ctx.session, ctx.slug, ctx.redis, *topics)


async def _commit_and_notify(session: AsyncSession, tenant: str, redis: Any, *topics: str) -> None:
    if redis is not None:
        for topic in topics:
            live.notify_after_commit(session, redis, tenant, topic)
    await uow.commit(session)


def columns(obj: Any) -> dict:
    return {c.key: getattr(obj, c.key) for c in obj.__table__.columns}


def _apply(obj: Any, values: dict) -> dict:
    """Set attributes; return {field: (old, new)} for those that really changed."""
    changes = {}
    for key, new in values.items():
        old = getattr(obj, key)
        if old != new:
            changes[key] = (old, new)
            setattr(obj, key, new)
    return changes


# --- calls -------------------------------------------------------------------------------------


async def _require_original(session: AsyncSession, duplicate_of_id: int, call_id: int | None = None) -> None:
    if duplicate_of_id == call_id:
        raise InvalidInput("duplicate_of_id", "Panggilan tidak bisa menjadi duplikat dirinya sendiri")
    found = (await session.execute(select(Call.id).where(Call.id == duplicate_of_id))).scalar_one_or_none()
    if found is None:
        raise InvalidInput(
            "duplicate_of_id", f"Panggilan #{duplicate_of_id} tidak ditemukan di kabupaten/kota ini"
        )


# Columns an intake may set; missing ones are NULL (received_at: now()). Built ONCE so the
# compiled-statement cache hits on every call (building the CTE costs more CPU than running it).
_INTAKE_COLS = (
    "caller_number",
    "caller_number_raw",
    "number_unavailable",
    "channel",
    "language",
    "outcome",
    "duplicate_of_id",
    "answered_at",
    "ended_at",
    "notes",
    "external_id",
    "operator_id",
    "received_at",
)


def _intake_statement():
    """ONE statement for a whole batch: every call row and its 'logged' event row. Ids are taken
    from the sequence first, so each event row knows its call; rows come back in batch order.
    A call whose ``external_id`` (idempotency key) is already stored is skipped (``ON CONFLICT
    DO NOTHING``, which waits for a concurrent insert of the same key to commit or roll back):
    it comes back from ``_EXISTING`` instead, so a retry never writes a call twice."""
    calls, log = Call.__table__, EventLog.__table__
    given = recordset(
        "calls",
        *columns_of(calls, _INTAKE_COLS),
        column("actor_id", log.c.actor_id.type),
        column("actor_label", log.c.actor_label.type),
        column("log", JSONB),
        column("i", Integer),
    )
    batch = select(Sequence("calls_id_seq", schema=TENANT_SCHEMA).next_value().label("id"), *given.c).cte(
        "batch"
    )
    values = [
        func.coalesce(batch.c[c], func.now()) if c == "received_at" else batch.c[c] for c in _INTAKE_COLS
    ]
    new_call = (
        pg_insert(calls)
        .from_select(["id", *_INTAKE_COLS], select(batch.c.id, *values), include_defaults=False)
        .on_conflict_do_nothing(index_elements=["external_id"])
        .returning(*calls.c)
        .cte("new_call")
    )
    written = select(new_call.c.id).subquery("written")
    logged = (
        insert(log)
        .from_select(
            ["entity", "entity_id", "kind", "actor_id", "actor_label", "data"],
            select(
                literal("call"),
                batch.c.id,
                literal("logged"),
                batch.c.actor_id,
                batch.c.actor_label,
                batch.c.log,
            ).where(batch.c.id.in_(select(written.c.id))),
            include_defaults=False,
        )
        .cte("logged")
    )
    return (
        select(*new_call.c, batch.c.i, literal(True).label("created"))
        .select_from(new_call.join(batch, new_call.c.id == batch.c.id))
        .order_by(batch.c.i)
        .add_cte(logged)
    )


_INTAKE = Direct(_intake_statement)
# The stored calls of keys an intake found taken: the answer to a retry is the call as stored.
_EXISTING = Direct(
    lambda: select(*Call.__table__.c, literal(-1).label("i"), literal(False).label("created")).where(
        Call.__table__.c.external_id == func.any(bindparam("keys", type_=ARRAY(String)))
    )
)


async def create_call(ctx: Ctx, data: CallCreate):
    """Log one call (see create_calls); the console form and tests come this way."""
    return (await create_calls(ctx.session, ctx.tenant, [(ctx.actor, data)], ctx.redis))[0]


async def create_calls(
    session: AsyncSession, tenant: TenantInfo, intakes: list[tuple[Principal, CallCreate]], redis: Any = None
) -> list:
    """Log calls in one transaction, committed before returning. This is the intake hot path
    (measured by bench/; the API sends concurrent calls here in batches, app.calls.intake): ONE
    statement writes every call with its 'logged' event, the handlers of call.created (SLA answer
    clocks, national deltas) write theirs in one more each, and every call comes back as a
    read-only row with the Call columns as attributes (no ORM object to build). One failing call
    fails the batch (nothing written)."""
    for _, data in intakes:
        if data.duplicate_of_id is not None:
            await _require_original(session, data.duplicate_of_id)
    written = await _INTAKE.all(
        session, {"calls": [_intake_row(i, actor, data) for i, (actor, data) in enumerate(intakes)]}
    )
    calls: list = [None] * len(intakes)
    for row in written:
        calls[row.i] = row
    taken = [data.external_id for call, (_, data) in zip(calls, intakes, strict=True) if call is None]
    if taken:  # idempotent repeats (or two of one batch with the same key): the stored call
        stored = {row.external_id: row for row in await _EXISTING.all(session, {"keys": taken})}
        calls = [call or stored[data.external_id] for call, (_, data) in zip(calls, intakes, strict=True)]
    await events.emit_many(
        session,
        [
            events.DomainEvent("call.created", tenant, actor.user_id, {"call": call})
            for (actor, _), call in zip(intakes, calls, strict=True)
            if call.created
        ],
    )
    await _commit_and_notify(session, tenant.slug, redis, "calls")
    return calls


def _intake_row(i: int, actor: Principal, data: CallCreate) -> dict:
    values = data.model_dump(exclude_none=True)
    if (
        "ended_at" not in values
        and "answered_at" in values
        and values.get("outcome") not in (None, "emergency")
    ):
        # Logged already closed (prank, silent, misdial, information): the call ended when it was
        # answered. One rule for the console form, the JSON API and the webhook alike.
        values["ended_at"] = values["answered_at"]
    if actor.kind != "token" and actor.user_id is not None:
        values["operator_id"] = actor.user_id
    return {**values, "actor_id": actor.user_id, "actor_label": actor.label, "log": jsonable(values), "i": i}


async def _get(session: AsyncSession, model, obj_id: int, lock: bool, missing: str):
    """One row by id (``lock``: FOR UPDATE, for a change that reads it first), or a 404."""
    stmt = select(model).where(model.id == obj_id)
    if lock:
        stmt = stmt.with_for_update()
    obj = (await session.execute(stmt)).scalar_one_or_none()
    if obj is None:
        raise NotFoundError(missing)
    return obj


async def get_call(session: AsyncSession, call_id: int, *, lock: bool = False) -> Call:
    return await _get(session, Call, call_id, lock, f"Panggilan #{call_id} tidak ditemukan")


async def correct_call(ctx: Ctx, call_id: int, data: CallCorrection) -> Call:
    """Corrections never overwrite history: the change and its reason become a new event."""
    call = await get_call(ctx.session, call_id, lock=True)
    values = data.changes()
    if values.get("outcome") not in (None, "duplicate") and call.duplicate_of_id is not None:
        values["duplicate_of_id"] = None
    if values.get("duplicate_of_id") is not None:
        await _require_original(ctx.session, values["duplicate_of_id"], call.id)
        values["outcome"] = "duplicate"
    if (values.get("outcome", call.outcome) == "duplicate") != (
        values.get("duplicate_of_id", call.duplicate_of_id) is not None
    ):
        raise InvalidInput(
            "duplicate_of_id", "Outcome 'duplicate' wajib disertai panggilan aslinya (dan sebaliknya)"
        )
    if values.get("outcome") and values["outcome"] != "emergency" and call.incident_id is not None:
        raise ConflictError(
            f"Panggilan ini terhubung ke insiden #{call.incident_id}; hasilnya harus 'emergency'"
        )
    if values.get("caller_number") is not None:
        values["number_unavailable"] = False  # an operator learnt the number (e.g. from the caller)
    before = snapshot(call, list(CALL_FIELDS))
    changes = _apply(call, values)
    if not changes:
        return call
    await ctx.session.flush()
    log_event(ctx, "call", call.id, "corrected", {"changes": changes, "reason": data.reason})
    await record(
        ctx.session,
        "call.corrected",
        actor_id=ctx.actor_id,
        actor_label=ctx.actor_label,
        origin=ctx.origin,
        entity="call",
        entity_id=call.id,
        before=before,
        after=snapshot(call, list(CALL_FIELDS)),
    )
    await events.emit(
        ctx.session, "call.updated", ctx.tenant, actor_id=ctx.actor_id, call=call, changes=changes
    )
    await finish(ctx, "calls")
    return call


async def list_calls(
    session: AsyncSession,
    *,
    number: str | None = None,
    outcome: str | None = None,
    date_from: datetime | None = None,
    date_to: datetime | None = None,
    active: bool = False,
    page: int = 1,
    per_page: int = 50,
) -> tuple[list[Call], int]:
    conds = []
    if number:
        conds.append(Call.caller_number == number)
    if outcome == "none":
        conds.append(Call.outcome.is_(None))
    elif outcome:
        conds.append(Call.outcome == outcome)
    if date_from:
        conds.append(Call.received_at >= date_from)
    if date_to:
        conds.append(Call.received_at < date_to)
    if active:
        conds.append(Call.received_at >= now() - timedelta(hours=12))
        conds.append(
            or_(Call.outcome.is_(None), and_(Call.outcome == "emergency", Call.incident_id.is_(None)))
        )
    where = and_(True, *conds)
    total = (await session.execute(select(func.count()).select_from(Call).where(where))).scalar_one()
    rows = (
        (
            await session.execute(
                select(Call)
                .where(where)
                .order_by(Call.received_at.desc(), Call.id.desc())
                .limit(per_page)
                .offset((page - 1) * per_page)
            )
        )
        .scalars()
        .all()
    )
    return list(rows), total


async def caller_history(session: AsyncSession, number: str, limit: int = 10) -> dict:
    """What the operator must know the moment a number is typed: how often, and how often a prank."""
    agg = (
        await session.execute(
            select(
                func.count(),
                func.count().filter(Call.outcome == "prank"),
                func.count().filter(Call.outcome == "silent"),
                func.count().filter(Call.outcome == "emergency"),
                func.max(Call.received_at),
            ).where(Call.caller_number == number)
        )
    ).one()
    recent = (
        (
            await session.execute(
                select(Call)
                .where(Call.caller_number == number)
                .order_by(Call.received_at.desc(), Call.id.desc())
                .limit(limit)
            )
        )
        .scalars()
        .all()
        if agg[0]
        else []
    )
    return {
        "number": number,
        "total": agg[0],
        "prank_count": agg[1],
        "silent_count": agg[2],
        "emergency_count": agg[3],
        "last_call_at": agg[4],
        "recent": list(recent),
    }


async def history(session: AsyncSession, entity: str, entity_id: int) -> list[EventLog]:
    return list(
        (
            await session.execute(
                select(EventLog)
                .where(EventLog.entity == entity, EventLog.entity_id == entity_id)
                .order_by(EventLog.id)
            )
        )
        .scalars()
        .all()
    )


# --- incidents ---------------------------------------------------------------------------------


async def _category(session: AsyncSession, category_id: int) -> Category:
    cat = await session.get(Category, category_id)
    if cat is None or not cat.is_active:
        raise InvalidInput("category_id", "Kategori tidak dikenal atau tidak aktif")
    return cat


def _check_kecamatan(ctx: Ctx, kecamatan: str | None) -> None:
    if not kecamatan or not ctx.region_code:
        return
    names = districts(ctx.region_code)
    if names and kecamatan not in names:
        raise InvalidInput("kecamatan", "Kecamatan tidak ada di kabupaten/kota ini")


async def get_incident(session: AsyncSession, incident_id: int, *, lock: bool = False) -> Incident:
    return await _get(session, Incident, incident_id, lock, f"Insiden #{incident_id} tidak ditemukan")


async def _attach(ctx: Ctx, call: Call, incident: Incident) -> dict:
    if call.incident_id is not None and call.incident_id != incident.id:
        raise ConflictError(f"Panggilan #{call.id} sudah terhubung ke insiden #{call.incident_id}")
    changes = _apply(call, {"incident_id": incident.id, "outcome": "emergency", "duplicate_of_id": None})
    if changes:
        log_event(ctx, "call", call.id, "attached", {"incident_id": incident.id, "changes": changes})
    return changes


async def open_incident(ctx: Ctx, data: IncidentCreate) -> Incident:
    """An emergency call opens an incident; the call is attached (and marked emergency)."""
    cat = await _category(ctx.session, data.category_id)
    _check_kecamatan(ctx, data.kecamatan)
    call = await get_call(ctx.session, data.call_id, lock=True) if data.call_id else None
    if call is not None and call.incident_id is not None:
        raise ConflictError(f"Panggilan #{call.id} sudah terhubung ke insiden #{call.incident_id}")
    values = data.model_dump(exclude={"call_id"}, exclude_none=True)
    values.setdefault("priority", cat.default_priority)
    if call is not None and "lat" not in values and getattr(call, "location_lat", None) is not None:
        values["lat"], values["lon"] = call.location_lat, call.location_lon
    incident = Incident(**values, status="open", opened_by=ctx.actor_id)
    ctx.session.add(incident)
    await ctx.session.flush()
    log_event(ctx, "incident", incident.id, "opened", {**values, "call_id": data.call_id})
    call_changes = await _attach(ctx, call, incident) if call is not None else {}
    await ctx.session.flush()
    await record(
        ctx.session,
        "incident.opened",
        actor_id=ctx.actor_id,
        actor_label=ctx.actor_label,
        origin=ctx.origin,
        entity="incident",
        entity_id=incident.id,
        after=snapshot(incident),
    )
    await events.emit(
        ctx.session, "incident.opened", ctx.tenant, actor_id=ctx.actor_id, incident=incident, call=call
    )
    if call_changes:
        await events.emit(
            ctx.session, "call.updated", ctx.tenant, actor_id=ctx.actor_id, call=call, changes=call_changes
        )
    await idempotency.remember(ctx.session, "incident", ctx.idempotency_key, [incident.id])
    await finish(ctx, "incidents", "calls")
    return incident


async def attach_call(ctx: Ctx, incident_id: int, data: AttachCall) -> Incident:
    """The same emergency reported twice: the second call joins the open incident."""
    incident = await get_incident(ctx.session, incident_id, lock=True)
    if incident.status != "open":
        raise ConflictError(f"Insiden #{incident.id} sudah ditutup")
    call = await get_call(ctx.session, data.call_id, lock=True)
    changes = await _attach(ctx, call, incident)
    if not changes:
        return incident
    log_event(ctx, "incident", incident.id, "call_attached", {"call_id": call.id})
    await ctx.session.flush()
    await record(
        ctx.session,
        "incident.call_attached",
        actor_id=ctx.actor_id,
        actor_label=ctx.actor_label,
        origin=ctx.origin,
        entity="incident",
        entity_id=incident.id,
        after={"call_id": call.id},
    )
    await events.emit(
        ctx.session, "call.updated", ctx.tenant, actor_id=ctx.actor_id, call=call, changes=changes
    )
    await events.emit(
        ctx.session,
        "incident.updated",
        ctx.tenant,
        actor_id=ctx.actor_id,
        incident=incident,
        changes={"call_attached": (None, call.id)},
    )
    await finish(ctx, "incidents", "calls")
    return incident


async def update_incident(ctx: Ctx, incident_id: int, data: IncidentUpdate) -> Incident:
    incident = await get_incident(ctx.session, incident_id, lock=True)
    values = data.changes()
    if "category_id" in values:
        if values["category_id"] is None:
            raise InvalidInput("category_id", "Kategori wajib diisi")
        await _category(ctx.session, values["category_id"])
    if values.get("priority", 0) is None:
        raise InvalidInput("priority", "Prioritas wajib diisi")
    if "status" in values:
        if values["status"] is None:
            values.pop("status")
        elif values["status"] != incident.status:
            values["closed_at"] = now() if values["status"] == "closed" else None
    _check_kecamatan(ctx, values.get("kecamatan"))
    before = snapshot(incident)
    changes = _apply(incident, values)
    if not changes:
        return incident
    await ctx.session.flush()
    kind = (
        {"closed": "closed", "open": "reopened"}.get(values.get("status", ""), "updated")
        if "status" in changes
        else "updated"
    )
    log_event(ctx, "incident", incident.id, kind, {"changes": changes})
    await record(
        ctx.session,
        f"incident.{kind}",
        actor_id=ctx.actor_id,
        actor_label=ctx.actor_label,
        origin=ctx.origin,
        entity="incident",
        entity_id=incident.id,
        before=before,
        after=snapshot(incident),
    )
    await events.emit(
        ctx.session, "incident.updated", ctx.tenant, actor_id=ctx.actor_id, incident=incident, changes=changes
    )
    await finish(ctx, "incidents")
    return incident


def _haversine_m(lat, lon, lat0: float, lon0: float):
    """Great-circle distance in SQL, so candidates are ranked by the database."""
    dlat = func.radians(lat - lat0)
    dlon = func.radians(lon - lon0)
    a = func.power(func.sin(dlat / 2), 2) + func.cos(func.radians(lat0)) * func.cos(
        func.radians(lat)
    ) * func.power(func.sin(dlon / 2), 2)
    return 2 * EARTH_RADIUS_M * func.asin(func.sqrt(func.least(1.0, a)))


async def nearby_incidents(
    session: AsyncSession,
    category_id: int,
    lat: float | None = None,
    lon: float | None = None,
    *,
    radius_m: float = NEARBY_RADIUS_M,
    window_min: int = NEARBY_WINDOW_MIN,
    limit: int = 5,
) -> list[dict]:
    """Open incidents of the same category opened within the window, within radius if a pin is known.

    Without a pin every recent open incident of the category is offered (no distance).
    """
    since = now() - timedelta(minutes=window_min)
    base = [Incident.status == "open", Incident.category_id == category_id, Incident.opened_at >= since]
    if lat is not None and lon is not None:
        dist = _haversine_m(Incident.lat, Incident.lon, lat, lon).label("distance_m")
        stmt = (
            select(Incident, dist)
            .where(*base, Incident.lat.is_not(None), dist <= radius_m)
            .order_by(dist)
            .limit(limit)
        )
    else:
        stmt = (
            select(Incident, literal(None).label("distance_m"))
            .where(*base)
            .order_by(Incident.opened_at.desc())
            .limit(limit)
        )
    rows = (await session.execute(stmt)).all()
    return [
        {
            "id": i.id,
            "category_id": i.category_id,
            "priority": i.priority,
            "address": i.address,
            "opened_at": i.opened_at,
            "description": i.description,
            "distance_m": None if d is None else round(float(d), 1),
        }
        for i, d in rows
    ]


async def list_incidents(
    session: AsyncSession, *, status: str | None = "open", limit: int = 100
) -> list[Incident]:
    stmt = select(Incident)
    if status:
        stmt = stmt.where(Incident.status == status)
    return list(
        (await session.execute(stmt.order_by(Incident.priority, Incident.opened_at.desc()).limit(limit)))
        .scalars()
        .all()
    )


async def incident_details(session: AsyncSession, incidents: list[Incident]) -> list[dict]:
    """Incidents with their category, call ids and dispatches, in three queries for any number."""
    ids = [i.id for i in incidents]
    if not ids:
        return []
    cats = {c.id: c for c in (await session.execute(select(Category))).scalars().all()}
    calls: dict[int, list[int]] = {}
    for cid, iid in (
        await session.execute(
            select(Call.id, Call.incident_id).where(Call.incident_id.in_(ids)).order_by(Call.id)
        )
    ).all():
        calls.setdefault(iid, []).append(cid)
    disp: dict[int, list[dict]] = {}
    for d, code, name in (
        await session.execute(
            select(Dispatch, Opd.code, Opd.name)
            .join(Opd, Opd.id == Dispatch.opd_id)
            .where(Dispatch.incident_id.in_(ids))
            .order_by(Dispatch.id)
        )
    ).all():
        disp.setdefault(d.incident_id, []).append(
            {**columns(d), "opd_code": code, "opd_name": name, "obj": d}
        )
    out = []
    for i in incidents:
        cat = cats.get(i.category_id)
        out.append(
            {
                **columns(i),
                "category_code": cat.code if cat else None,
                "category_name": cat.name if cat else None,
                "call_ids": calls.get(i.id, []),
                "dispatches": disp.get(i.id, []),
                "obj": i,
            }
        )
    return out
