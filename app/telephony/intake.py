"""Telephony webhook intake: the integrator's events of one regency that arrive together are
applied together (group commit, ``app.batching``), as the API's call intake does.

Every request is verified (signature, timestamp) and parsed on its own; the events waiting for
one tenant then go through ONE Redis pipeline (replay claims) and ONE transaction:

1. ``telephony_events``: one INSERT … ON CONFLICT DO NOTHING for the batch; an id already stored
   is a replay (409) for that event alone (Redis forgot it, or Redis is down);
2. ``calls``: one upsert for every call of the batch, which also takes the calls' row locks (in
   external-id order, so two batches never wait for each other crosswise);
3. in Python, each call's events are merged in arrival order exactly as one by one (earliest
   timestamp wins, the state derived from the timestamps, the silent flag), and each request is
   answered with the call as it stood after its own event;
4. early AML positions of the calls just created, callback tasks (replaying the one-by-one
   transitions), then ONE statement writing the changed calls and every event-log row;
5. the domain events: ``call.created`` for the new calls, ``call.updated`` with each call's net
   change for the others; the SLA and national handlers take each batch at once
   (``subscribe(batch=True)``), and the commit sends one Redis pipeline of live notices.

A batch that fails before its commit is released from Redis and retried event by event (one bad
event fails only its own request, its id not burnt); a lost connection fails the batch without a
retry (app.batching).
"""

from __future__ import annotations

import logging
from types import SimpleNamespace
from typing import Any, cast

import psycopg
from sqlalchemy import (
    ARRAY,
    BigInteger,
    Integer,
    String,
    any_,
    bindparam,
    column,
    insert,
    literal,
    literal_column,
    select,
    update,
)
from sqlalchemy.dialects.postgresql import JSONB
from sqlalchemy.dialects.postgresql import insert as pg_insert
from sqlalchemy.exc import DataError, IntegrityError, OperationalError
from sqlalchemy.ext.asyncio import AsyncSession

from app import events, live
from app.batching import Batcher
from app.calls.models import Call, EventLog
from app.core.errors import ServiceError
from app.core.json import jsonable
from app.core.tenant import TenantInfo
from app.db import uow
from app.db.database import Database
from app.db.direct import Direct, columns_of, insert_rows, recordset
from app.telephony.models import CallbackTask, TelephonyEvent
from app.telephony.schemas import CallEventIn
from app.telephony.service import (
    INTEGRATOR,
    REPLAY_TTL_S,
    TRACKED,
    EventResult,
    Replay,
    _merge,
    _replay_key,
    attach_early_aml,
)

log = logging.getLogger(__name__)
LATE_ANSWER_NOTE = "Event terlambat: panggilan ternyata dijawab"


def _replay(event_id: str) -> Replay:
    return Replay(f"Event {event_id} sudah pernah diterima (replay ditolak)")


async def claim_event_ids(redis, slug: str, event_ids: list[str]) -> list[bool]:
    """Fast first line against replays, ONE pipeline for a batch: False for an id seen before.
    Redis down → every id passes and the unique ``telephony_events.event_id`` decides."""
    if redis is None or not event_ids:
        return [True] * len(event_ids)
    try:
        pipe = redis.pipeline(transaction=False)
        for event_id in event_ids:
            pipe.set(_replay_key(slug, event_id, redis), b"1", nx=True, ex=REPLAY_TTL_S)
        return [bool(ok) for ok in await pipe.execute()]
    except Exception:
        log.warning("redis unavailable for replay check; falling back to the database", exc_info=True)
        return [True] * len(event_ids)


async def release_event_ids(redis, slug: str, event_ids: list[str]) -> None:
    """Processing failed: let the integrator's retries through."""
    if redis is not None and event_ids:
        try:
            await redis.delete(*(_replay_key(slug, e, redis) for e in event_ids))
        except Exception:
            log.warning("could not release replay keys %s", event_ids, exc_info=True)


def wrote_nothing(exc: BaseException) -> bool:
    """Raised before the commit by a statement or a check (a bad value, a deadlock PostgreSQL broke
    by rolling back): nothing was written, so each event can be tried alone."""
    if isinstance(exc, (ServiceError, IntegrityError, DataError)):
        return True
    return isinstance(exc, OperationalError) and isinstance(
        getattr(exc, "orig", None), psycopg.errors.TransactionRollback
    )


class EventQueue:
    """``await queue.submit(tenant, event)`` → the EventResult once committed (or Replay)."""

    def __init__(self, db: Database, redis: Any = None, max_batch: int = 64):
        self.db = db
        self.redis = redis
        self.batcher: Batcher[TenantInfo, CallEventIn, EventResult] = Batcher(
            self._flush, max_batch=max_batch, retry_alone=wrote_nothing
        )

    async def submit(self, tenant: TenantInfo, event: CallEventIn) -> EventResult:
        return await self.batcher.submit(tenant, event)

    async def _flush(self, tenant: TenantInfo, evs: list[CallEventIn]) -> list:
        slug = tenant.slug
        results: list = [None] * len(evs)
        todo: list[int] = []
        seen: set[str] = set()
        for i, ev in enumerate(evs):  # the same id twice in one batch: the second is a replay
            if ev.event_id in seen:
                results[i] = _replay(ev.event_id)
            else:
                seen.add(ev.event_id)
                todo.append(i)
        claimed = await claim_event_ids(self.redis, slug, [evs[i].event_id for i in todo])
        fresh = [i for i, ok in zip(todo, claimed, strict=True) if ok]
        for i, ok in zip(todo, claimed, strict=True):
            if not ok:
                results[i] = _replay(evs[i].event_id)
        if not fresh:
            return results
        try:
            async with self.db.tenant(slug) as session:
                applied = await apply_events(session, tenant, [evs[i] for i in fresh], self.redis)
        except BaseException:
            await release_event_ids(self.redis, slug, [evs[i].event_id for i in fresh])
            raise
        for i, result in zip(fresh, applied, strict=True):
            results[i] = result
        return results

    async def aclose(self) -> None:
        await self.batcher.aclose()


# --- the batch's statements (built once; compiled once per tenant schema by Direct) ---------------

_EVENT_COLS = ("event_id", "kind", "external_call_id", "occurred_at")
_UPSERT_COLS = (
    "external_id",
    "caller_number",
    "caller_number_raw",
    "number_unavailable",
    "imei",
    "imsi",
    "received_at",
    "called_number",
    "trunk",
)
# What merging events and attaching an early AML may change on a call (written back under its lock).
_WRITE_COLS = (
    "caller_number",
    "caller_number_raw",
    "number_unavailable",
    "imei",
    "imsi",
    "received_at",
    "answered_at",
    "transferred_at",
    "ended_at",
    "telephony_state",
    "outcome",
    "silent_suspected",
    "operator_extension",
    "called_number",
    "trunk",
    "location_lat",
    "location_lon",
    "location_radius_m",
    "location_source",
    "location_at",
)


def _events_seen_statement():
    table = TelephonyEvent.__table__
    return (
        insert_rows(table, "events", _EVENT_COLS, order_by=("event_id",))
        .on_conflict_do_nothing(index_elements=["event_id"])
        .returning(table.c.event_id)
    )


def _upsert_statement():
    """Insert each call or lock its row, in ONE round trip (a no-op DO UPDATE locks it); one row
    per call (ON CONFLICT may touch a row once per statement), in external-id order."""
    table = Call.__table__
    given = recordset("calls", *columns_of(table, _UPSERT_COLS))
    ins = pg_insert(table).from_select(
        [*_UPSERT_COLS, "channel", "language", "telephony_state"],
        select(*given.c, literal("voice"), literal("id"), literal("ringing")).order_by(given.c.external_id),
        include_defaults=False,
    )
    ins = ins.on_conflict_do_update(
        index_elements=["external_id"], set_={"external_id": ins.excluded.external_id}
    )
    return ins.returning(*table.c, literal_column("xmax = 0").label("inserted"))


def _write_statement():
    """The changed calls and every event-log row of the batch, in one statement. The calls are
    found by ``id = ANY(:ids)`` as well: joined only to the recordset (which PostgreSQL always
    guesses at 100 rows), the planner scanned the whole calls table at every batch while it was
    small or its statistics old (tests/db/test_batch_plans.py looks at the plan)."""
    calls, history = Call.__table__, EventLog.__table__
    changed = recordset("calls", column("id", BigInteger), *columns_of(calls, _WRITE_COLS), name="c")
    updated = (
        update(calls)
        .where(calls.c.id == any_(bindparam("ids", type_=ARRAY(BigInteger))), calls.c.id == changed.c.id)
        .values({k: changed.c[k] for k in _WRITE_COLS})
        .returning(calls.c.id)
        .cte("updated")
    )
    rows = recordset(
        "log",
        column("entity_id", BigInteger),
        column("kind", String),
        column("data", JSONB),
        column("i", Integer),
        name="l",
    )
    return (
        insert(history)
        .from_select(
            ["entity", "entity_id", "kind", "actor_label", "data"],
            select(
                literal("call"), rows.c.entity_id, rows.c.kind, literal(INTEGRATOR.label), rows.c.data
            ).order_by(rows.c.i),
            include_defaults=False,
        )
        .add_cte(updated)
    )


def _callback_statements():
    table = CallbackTask.__table__
    existing = select(table.c.id, table.c.call_id, table.c.status, table.c.note).where(
        table.c.call_id == any_(bindparam("ids", type_=ARRAY(BigInteger)))
    )
    new = recordset("tasks", *columns_of(table, ("call_id", "caller_number", "status", "note")))
    add = insert(table).from_select(["call_id", "caller_number", "status", "note"], select(*new.c))
    changed = recordset("tasks", *columns_of(table, ("id", "status", "note")))
    change = (  # found by id = ANY as well (see _write_statement)
        update(table)
        .where(table.c.id == any_(bindparam("ids", type_=ARRAY(BigInteger))), table.c.id == changed.c.id)
        .values(status=changed.c.status, note=changed.c.note)
    )
    return existing, add, change


_EVENTS_SEEN = Direct(_events_seen_statement)
_UPSERT = Direct(_upsert_statement)
_WRITE = Direct(_write_statement)
_TASKS = Direct(lambda: _callback_statements()[0])
_ADD_TASKS = Direct(lambda: _callback_statements()[1])
_CHANGE_TASKS = Direct(lambda: _callback_statements()[2])


# --- applying a batch ----------------------------------------------------------------------------


def _callback_step(task: list | None, was_missed: bool, missed: bool) -> list | None:
    """One event's effect on the call's callback task ([status, note] or None), as one by one: a
    missed call gets one open task; a late event showing it was answered voids it."""
    if not missed and not was_missed:
        return task
    if missed and task is None:
        return ["open", None]
    if missed and task is not None and task[0] == "void":
        return ["open", None]
    if not missed and task is not None and task[0] == "open":
        return ["void", LATE_ANSWER_NOTE]
    return task


async def apply_events(
    session: AsyncSession, tenant: TenantInfo, evs: list[CallEventIn], redis: Any = None
) -> list:
    """Apply verified integrator events in ONE transaction and commit. Per event, in order: its
    EventResult, or a Replay if its id was stored before (that event only)."""
    results: list = [None] * len(evs)
    stored = await _EVENTS_SEEN.all(
        session,
        {
            "events": [
                {
                    "event_id": e.event_id,
                    "kind": e.type,
                    "external_call_id": e.call_id,
                    "occurred_at": e.occurred_at,
                }
                for e in evs
            ]
        },
    )
    fresh_ids = {r.event_id for r in stored}
    of_call: dict[str, list[int]] = {}
    for i, ev in enumerate(evs):
        if ev.event_id in fresh_ids:
            of_call.setdefault(ev.call_id, []).append(i)
        else:
            results[i] = _replay(ev.event_id)
    if not of_call:
        await session.rollback()
        return results

    first = [evs[idx[0]] for idx in of_call.values()]
    rows = await _UPSERT.all(
        session,
        {
            "calls": [
                {
                    "external_id": e.call_id,
                    "caller_number": e.caller_number,
                    "caller_number_raw": e.caller_number_raw,
                    "number_unavailable": e.number_unavailable,
                    "imei": e.imei,
                    "imsi": e.imsi,
                    "received_at": e.occurred_at,
                    "called_number": e.called_number,
                    "trunk": e.trunk,
                }
                for e in first
            ]
        },
    )
    locked = {r.external_id: r for r in rows}
    topics = {"calls"}
    log_rows: list[dict] = []
    merged: list[tuple[SimpleNamespace, bool, dict, list[tuple[bool, bool]]]] = []
    for call_id, idx in of_call.items():
        row = locked[call_id]
        created = bool(row.inserted)
        call = SimpleNamespace(**{k: v for k, v in row._asdict().items() if k != "inserted"})
        before = {f: getattr(call, f) for f in TRACKED}
        steps: list[tuple[bool, bool]] = []  # (missed before, missed after) for each event
        for n, i in enumerate(idx):
            ev = evs[i]
            prior = {f: getattr(call, f) for f in TRACKED}
            _merge(cast(Call, call), ev)  # a Call-shaped row: the merge reads and sets attributes
            state, was = call.telephony_state, prior["telephony_state"]
            steps.append((was == "missed", state == "missed"))
            if "ringing" in (state, was) or (created and n == 0):
                topics.add("ringing")
            if state == "missed" and was != "missed":
                topics.add("callbacks")
            changes = {f: (prior[f], getattr(call, f)) for f in TRACKED if prior[f] != getattr(call, f)}
            results[i] = EventResult(SimpleNamespace(**vars(call)), created and n == 0, changes)
            log_rows.append(
                {
                    "entity_id": call.id,
                    "kind": f"telephony.{ev.type}",
                    "data": jsonable(
                        {
                            "event_id": ev.event_id,
                            "occurred_at": ev.occurred_at,
                            "extension": ev.operator_extension,
                        }
                    ),
                    "i": i,
                }
            )
        merged.append((call, created, before, steps))

    new_calls = [call for call, created, _, _ in merged if created]
    # the AML fixes that overtook their calls (app.location picks the best), one statement
    await attach_early_aml(session, cast(list[Call], new_calls))
    await _sync_callbacks(session, merged)

    changed = [
        call
        for call, _, _, _ in merged
        if any(getattr(call, k) != getattr(locked[call.external_id], k) for k in _WRITE_COLS)
    ]
    await _WRITE.later(
        session,
        {
            "ids": [c.id for c in changed],
            "calls": [{"id": c.id, **{k: getattr(c, k) for k in _WRITE_COLS}} for c in changed],
            "log": sorted(log_rows, key=lambda r: r["i"]),
        },
    )
    await events.emit_many(
        session, [events.DomainEvent("call.created", tenant, None, {"call": c}) for c in new_calls]
    )
    updates = []
    for call, created, before, _ in merged:
        net = {f: (before[f], getattr(call, f)) for f in TRACKED if before[f] != getattr(call, f)}
        if not created and net:
            updates.append(events.DomainEvent("call.updated", tenant, None, {"call": call, "changes": net}))
    await events.emit_many(session, updates)
    if redis is not None:
        for topic in sorted(topics):
            live.notify_after_commit(session, redis, tenant.slug, topic)
    await uow.commit(session)
    return results


async def _sync_callbacks(session: AsyncSession, merged: list) -> None:
    """Callback tasks of the batch's calls, as the events one by one would have left them."""
    touched = [(call, created, steps) for call, created, _, steps in merged if any(a or b for a, b in steps)]
    if not touched:
        return
    lookup = [call.id for call, created, _ in touched if not created]  # a new call has no task yet
    existing = {r.call_id: r for r in (await _TASKS.all(session, {"ids": lookup}) if lookup else [])}
    new, change = [], []
    for call, _, steps in touched:
        row = existing.get(call.id)
        task = [row.status, row.note] if row is not None else None
        start = list(task) if task else None
        for was_missed, missed in steps:
            task = _callback_step(task, was_missed, missed)
        if task is None or task == start:
            continue
        if row is None:
            new.append(
                {"call_id": call.id, "caller_number": call.caller_number, "status": task[0], "note": task[1]}
            )
        else:
            change.append({"id": row.id, "status": task[0], "note": task[1]})
    if new:
        await _ADD_TASKS.later(session, {"tasks": new})
    if change:
        await _CHANGE_TASKS.later(session, {"ids": [t["id"] for t in change], "tasks": change})
