"""SLA clocks: start and stop them from domain events, and fire warnings, breaches, escalations.

Exactly-once: each transition is ONE conditional UPDATE (``… WHERE breached_at IS NULL AND
stopped_at IS NULL … RETURNING``). PostgreSQL re-checks the WHERE clause after a concurrent
writer commits, so two workers (or a worker and the reconciliation cron, or a stop racing a
breach) can never both win; notifications are written only by the winner, in its transaction.
"""

from __future__ import annotations

import logging
import time
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from typing import TypeGuard

from sqlalchemy import (
    ARRAY,
    BigInteger,
    DateTime,
    String,
    and_,
    any_,
    bindparam,
    case,
    column,
    delete,
    func,
    inspect,
    literal,
    select,
    update,
)
from sqlalchemy.ext.asyncio import AsyncSession

from app import jobs, live
from app.audit.service import record, snapshot
from app.config import get_settings
from app.core import clock
from app.core.errors import DeniedError, NotFoundError
from app.core.origin import Origin
from app.core.principal import Principal
from app.core.tenant import TenantInfo
from app.db import uow
from app.db.direct import Direct, insert_rows, recordset
from app.dispatch.models import Category, Opd
from app.events import DomainEvent, after_commit_redis, emit, emit_many
from app.notify.service import add_notification, queue_webhook
from app.sla.models import SlaClock, SlaPolicy, clock_key, policy_scope
from app.sla.policies import KIND_SHORT, TARGET_FIELDS, format_duration, policy_form_problems, select_policy

log = logging.getLogger(__name__)

# Only timers due within this window are copied into Redis; the reconciliation cron (every
# 30 s) brings later ones in as they approach, so Redis never holds hours of deferred jobs.
SCHEDULE_HORIZON = timedelta(minutes=2)
# A timer this much overdue is fired by the reconciliation cron itself instead of re-queued.
OVERDUE_GRACE = timedelta(seconds=5)


def _ms(delta: timedelta) -> int:
    return int(delta.total_seconds() * 1000)


def next_due(c: SlaClock) -> datetime | None:
    if c.stopped_at is not None:
        return None
    pending = []
    if c.breached_at is None:
        pending.append(c.deadline)
        if c.warned_at is None:
            pending.append(c.warn_at)
    elif c.escalated_at is None:
        pending.append(c.escalate_at)
    return min(pending) if pending else None


# --- scheduling -------------------------------------------------------------------------------


def job_id(tenant_slug: str, clock_id: int, due: datetime) -> str:
    """One arq job per (clock, due time): re-enqueueing the same timer is a no-op."""
    return f"sla:{tenant_slug}:{clock_id}:{int(due.timestamp() * 1000)}"


def _timer(tenant_slug: str, clock_id: int, due: datetime) -> tuple[tuple, dict]:
    return (
        ("sla_check", tenant_slug, clock_id, int(due.timestamp() * 1000)),
        {"_job_id": job_id(tenant_slug, clock_id, due), "_defer_by": clock.delay_until(due)},
    )


def _due_soon(due: datetime | None) -> TypeGuard[datetime]:
    return due is not None and due - clock.now() <= SCHEDULE_HORIZON


async def schedule(tenant_slug: str, clock_id: int, due: datetime | None) -> bool:
    """Copy a timer into Redis if it is within the horizon. False if not queued (later / duplicate)."""
    if not _due_soon(due):
        return False
    args, kw = _timer(tenant_slug, clock_id, due)
    return await jobs.enqueue(*args, **kw) is not None


def _schedule_after_commit(session: AsyncSession, tenant_slug: str, c: SlaClock) -> None:
    """``schedule`` once committed, in the commit's one Redis pipeline."""
    clock_id, due = c.id, c.next_due_at
    if _due_soon(due):

        def write(pipe) -> None:
            args, kw = _timer(tenant_slug, clock_id, due)  # the delay counts from the commit
            jobs.enqueue_into(pipe, *args, **kw)

        after_commit_redis(session, write)


# Policies change rarely (an admin form), clocks start on every call: a per-process copy per
# (tenant, priority, category), valid for the tenant cache TTL (settings; 0 in tests). The admin
# form drops it at once in its own process; other processes see the change within the TTL.
_policies: dict[tuple[str, int, int | None], tuple[float, SlaPolicy]] = {}


def forget_policies(tenant_slug: str) -> None:
    for key in [k for k in _policies if k[0] == tenant_slug]:
        _policies.pop(key, None)


def _detached(policy: SlaPolicy) -> SlaPolicy:
    """A transient copy: safe to share across sessions (no expiry on another session's commit)."""
    return SlaPolicy(**{a.key: getattr(policy, a.key) for a in inspect(SlaPolicy).column_attrs})


async def _policy(session: AsyncSession, tenant_slug: str, priority: int, category_id: int | None):
    """One policy lookup per transaction and (priority, category) (a dispatch starts three clocks),
    and at most one per TTL per process."""
    cache = session.info.setdefault("sla_policies", {})
    key = (priority, category_id)
    if key in cache:
        return cache[key]
    shared_key = (tenant_slug, priority, category_id)
    now = time.monotonic()
    hit = _policies.get(shared_key)
    if hit is not None and hit[0] > now:
        policy = hit[1]
    else:
        policy = await select_policy(session, priority, category_id)
        ttl = get_settings().tenant_cache_ttl_s
        if ttl > 0:
            policy = _detached(policy)
            _policies[shared_key] = (now + ttl, policy)
    cache[key] = policy
    return policy


# --- starting and stopping --------------------------------------------------------------------

# Built once (compiled-cache hit on every clock); ON CONFLICT: a clock per target exists once.
# Core, not ORM: nobody needs the clock as an object, only its id and first due time. Any number
# of clocks in one statement (batched intake starts one answer clock per call).
_CLOCK_COLS = (
    "key",
    "kind",
    "subject",
    "subject_id",
    "call_id",
    "incident_id",
    "dispatch_id",
    "opd_id",
    "category_id",
    "priority",
    "policy_id",
    "target_s",
    "warning_pct",
    "escalation_delay_s",
    "started_at",
    "warn_at",
    "deadline",
    "escalate_at",
    "next_due_at",
    "escalation_level",
)


def _start_clocks_statement():
    table = SlaClock.__table__
    return (
        insert_rows(table, "clocks", _CLOCK_COLS)
        .on_conflict_do_nothing(index_elements=["key"])
        .returning(table.c.key, table.c.id, table.c.next_due_at)
    )


_START_CLOCKS = Direct(_start_clocks_statement)


async def start_clock(
    session: AsyncSession,
    tenant: TenantInfo,
    *,
    kind: str,
    subject: str,
    subject_id: int,
    started_at: datetime,
    priority: int,
    category_id: int | None,
    call_id: int | None = None,
    incident_id: int | None = None,
    dispatch_id: int | None = None,
    opd_id: int | None = None,
) -> bool:
    """Start the clock for one target, unless the policy does not measure it or it exists already.
    True if a clock was started."""
    return (
        await start_clocks(
            session,
            tenant,
            [
                dict(
                    kind=kind,
                    subject=subject,
                    subject_id=subject_id,
                    started_at=started_at,
                    priority=priority,
                    category_id=category_id,
                    call_id=call_id,
                    incident_id=incident_id,
                    dispatch_id=dispatch_id,
                    opd_id=opd_id,
                )
            ],
        )
    )[0]


async def start_clocks(session: AsyncSession, tenant: TenantInfo, targets: list[dict]) -> list[bool]:
    """``start_clock`` for many targets (keyword arguments of start_clock each) in one round trip
    (batched call intake starts one answer clock per call)."""
    measured: list[dict] = []  # clock rows of the targets the policy measures
    keys: list[str | None] = []  # per target: its clock's key, None if not measured
    seen: set[str] = set()
    for t in targets:
        policy = await _policy(session, tenant.slug, t["priority"], t["category_id"])
        target = policy.target_for(t["kind"])
        key = clock_key(t["kind"], t["subject"], t["subject_id"])
        if target is None or key in seen:  # not measured, or the same target twice: one clock
            keys.append(None)
            continue
        seen.add(key)
        at = t["started_at"]
        deadline = at + timedelta(seconds=target)
        warn_at = at + timedelta(seconds=target * policy.warning_pct / 100)
        keys.append(key)
        measured.append(
            dict(
                key=key,
                kind=t["kind"],
                subject=t["subject"],
                subject_id=t["subject_id"],
                call_id=t.get("call_id"),
                incident_id=t.get("incident_id"),
                dispatch_id=t.get("dispatch_id"),
                opd_id=t.get("opd_id"),
                category_id=t["category_id"],
                priority=t["priority"],
                policy_id=policy.id,
                target_s=target,
                warning_pct=policy.warning_pct,
                escalation_delay_s=policy.escalation_delay_s,
                started_at=at,
                warn_at=warn_at,
                deadline=deadline,
                escalate_at=deadline + timedelta(seconds=policy.escalation_delay_s),
                next_due_at=min(warn_at, deadline),
                escalation_level=0,
            )
        )
    created = (
        {row.key: row for row in await _START_CLOCKS.all(session, {"clocks": measured})} if measured else {}
    )
    for row in created.values():  # a clock that existed already is not returned (ON CONFLICT DO NOTHING)
        _schedule_after_commit(session, tenant.slug, row)
    return [key in created for key in keys]


async def stop_clocks(
    session: AsyncSession,
    tenant: TenantInfo,
    at: datetime,
    *,
    reason: str = "done",
    actor_id: int | None = None,
    **where,
) -> list[SlaClock]:
    """Stop every open clock matching ``where`` (e.g. kind=, subject=, subject_id= or incident_id=).

    A clock stopped after its deadline that the worker had not flagged yet is recorded as
    breached now, with its lateness, so a worker outage never turns a late step into a met one.
    """
    conditions = [getattr(SlaClock, k) == v for k, v in where.items()]
    if {"kind", "subject", "subject_id"} <= where.keys():  # the unique key's index finds it
        conditions.append(SlaClock.key == clock_key(where["kind"], where["subject"], where["subject_id"]))
    rows = (
        (
            await session.execute(
                select(SlaClock)
                .where(and_(*conditions), SlaClock.stopped_at.is_(None))
                .with_for_update()
                .execution_options(populate_existing=True)
            )
        )
        .scalars()
        .all()
    )
    closed = []
    for c in rows:
        if c.stopped_at is not None:  # stopped by a concurrent transaction we waited for
            continue
        c.stopped_at, c.close_reason, c.next_due_at = at, reason, None
        c.actual_ms = max(0, _ms(at - c.started_at))
        c.overrun_ms = _ms(at - c.deadline)
        c.met = at <= c.deadline
        if not c.met and c.breached_at is None:
            c.breached_at, c.lateness_ms = at, c.overrun_ms
        closed.append(c)
    await session.flush()
    for c in closed:
        if c.close_reason == "done":
            await emit(session, "sla.clock_closed", tenant, actor_id=actor_id, clock=c, breached=not c.met)
    return closed


def _stop_many_statement():
    """ONE statement stopping any number of clocks, each by (kind, subject, subject_id), with the
    rules of ``stop_clocks`` in SQL: actual/overrun in whole milliseconds (truncated, as
    ``_ms``), met = stopped by the deadline, and a late stop the worker had not flagged yet
    recorded as breached now with its lateness."""
    t = SlaClock.__table__
    r = recordset(
        "stops",
        column("kind", String),
        column("subject", String),
        column("subject_id", BigInteger),
        column("at", DateTime(timezone=True)),
        column("reason", String),
    )

    def ms(delta):
        return func.trunc(func.extract("epoch", delta) * 1000).cast(BigInteger)

    late = and_(r.c.at > t.c.deadline, t.c.breached_at.is_(None))
    return (
        update(t)
        .where(
            # By the unique key as well (kind:subject:id): no index has the three columns, and
            # joined only to the recordset the planner scanned every clock ever kept.
            t.c.key == any_(bindparam("keys", type_=ARRAY(String))),
            t.c.kind == r.c.kind,
            t.c.subject == r.c.subject,
            t.c.subject_id == r.c.subject_id,
            t.c.stopped_at.is_(None),
        )
        .values(
            stopped_at=r.c.at,
            close_reason=r.c.reason,
            next_due_at=None,
            actual_ms=func.greatest(0, ms(r.c.at - t.c.started_at)),
            overrun_ms=ms(r.c.at - t.c.deadline),
            met=r.c.at <= t.c.deadline,
            breached_at=case((late, r.c.at), else_=t.c.breached_at),
            lateness_ms=case((late, ms(r.c.at - t.c.deadline)), else_=t.c.lateness_ms),
        )
        .returning(*t.c)
    )


_STOP_MANY = Direct(_stop_many_statement)


async def stop_clocks_many(session: AsyncSession, tenant: TenantInfo, stops: list[dict]) -> list:
    """``stop_clocks`` for many single targets in one round trip (batched telephony events stop
    one answer clock per call). Each stop: kind, subject, subject_id, at, reason ("done" or
    "cancelled"), actor_id. A target given twice is stopped by its last entry. Returns the
    stopped clocks (read-only rows); ``sla.clock_closed`` is emitted for the "done" ones."""
    if not stops:
        return []
    by_target = {(s["kind"], s["subject"], s["subject_id"]): s for s in stops}
    rows = await _STOP_MANY.all(
        session,
        {
            "keys": [clock_key(*target) for target in by_target],
            "stops": [
                {k: s[k] for k in ("kind", "subject", "subject_id", "at", "reason")}
                for s in by_target.values()
            ],
        },
    )
    done = [
        DomainEvent(
            "sla.clock_closed",
            tenant,
            by_target[(c.kind, c.subject, c.subject_id)].get("actor_id"),
            {"clock": c, "breached": not c.met},
        )
        for c in rows
        if c.close_reason == "done"
    ]
    await emit_many(session, done)
    return list(rows)


async def retarget_open_clocks(
    session: AsyncSession, tenant: TenantInfo, incident_id: int, priority: int, category_id: int | None
) -> int:
    """Priority/category changed: re-derive the targets of this incident's clocks not yet breached."""
    rows = (
        (
            await session.execute(
                select(SlaClock)
                .where(
                    SlaClock.incident_id == incident_id,
                    SlaClock.stopped_at.is_(None),
                    SlaClock.breached_at.is_(None),
                )
                .with_for_update()
                .execution_options(populate_existing=True)
            )
        )
        .scalars()
        .all()
    )
    for c in rows:
        policy = await select_policy(session, priority, category_id)
        target = policy.target_for(c.kind)
        c.priority, c.category_id, c.policy_id = priority, category_id, policy.id
        if target is None:
            c.stopped_at, c.close_reason, c.next_due_at = clock.now(), "cancelled", None
            continue
        c.target_s, c.warning_pct, c.escalation_delay_s = (
            target,
            policy.warning_pct,
            policy.escalation_delay_s,
        )
        c.deadline = c.started_at + timedelta(seconds=target)
        c.warn_at = c.started_at + timedelta(seconds=target * policy.warning_pct / 100)
        c.escalate_at = c.deadline + timedelta(seconds=policy.escalation_delay_s)
        c.next_due_at = next_due(c)
        _schedule_after_commit(session, tenant.slug, c)
    await session.flush()
    return len(rows)


# --- firing -----------------------------------------------------------------------------------


@dataclass
class Fired:
    warned: bool = False
    breached: bool = False
    escalated: bool = False
    next_due_at: datetime | None = None
    clock: SlaClock | None = None
    notices: list = field(default_factory=list)


def _lateness_sql(at: datetime):
    return func.floor(
        func.extract("epoch", literal(at, DateTime(timezone=True)) - SlaClock.deadline) * 1000
    ).cast(BigInteger)


async def _transition(
    session: AsyncSession, clock_id: int, conditions: list, values: dict
) -> SlaClock | None:
    stmt = (
        update(SlaClock)
        .where(SlaClock.id == clock_id, SlaClock.stopped_at.is_(None), *conditions)
        .values(**values)
        .returning(SlaClock)
        .execution_options(populate_existing=True, synchronize_session=False)
    )
    return (await session.execute(stmt)).scalar_one_or_none()


async def fire_due(session: AsyncSession, tenant: TenantInfo, clock_id: int) -> Fired:
    """Apply whatever is due on one clock at ``clock.now()``; commits. Safe to call any number of times.

    A plain read decides which transition to try; the guarded UPDATE decides who wins. Each
    UPDATE also moves ``next_due_at`` on, so a typical breach costs one read and one write.
    """
    at = clock.now()
    fired = Fired()
    c = (
        await session.execute(
            select(SlaClock).where(SlaClock.id == clock_id).execution_options(populate_existing=True)
        )
    ).scalar_one_or_none()
    if c is not None and c.stopped_at is None:
        if c.breached_at is None and c.deadline <= at:
            escalate_now = c.escalate_at <= at
            won = await _transition(
                session,
                clock_id,
                [SlaClock.breached_at.is_(None), SlaClock.deadline <= at],
                dict(
                    breached_at=at,
                    lateness_ms=_lateness_sql(at),
                    escalation_level=1,
                    next_due_at=None if escalate_now else SlaClock.escalate_at,
                ),
            )
            if won is not None:
                c, fired.breached = won, True
                await _announce(session, tenant, c, "breached", 1)
        elif c.breached_at is None and c.warned_at is None and c.warn_at <= at:
            won = await _transition(
                session,
                clock_id,
                [SlaClock.breached_at.is_(None), SlaClock.warned_at.is_(None), SlaClock.warn_at <= at],
                dict(warned_at=at, next_due_at=SlaClock.deadline),
            )
            if won is not None:
                c, fired.warned = won, True
                await _announce(session, tenant, c, "warning", 0)
        if c.breached_at is not None and c.escalated_at is None and c.escalate_at <= at:
            won = await _transition(
                session,
                clock_id,
                [
                    SlaClock.breached_at.is_not(None),
                    SlaClock.escalated_at.is_(None),
                    SlaClock.escalate_at <= at,
                ],
                dict(escalated_at=at, escalation_level=2, next_due_at=None),
            )
            if won is not None:
                c, fired.escalated = won, True
                await _announce(session, tenant, c, "escalated", 2)
    if c is None:
        await session.rollback()
        return fired
    fired.clock = c
    fired.next_due_at = c.next_due_at
    if fired.warned or fired.breached or fired.escalated:
        data = {
            "clock_id": c.id,
            "kind": c.kind,
            "level": c.escalation_level,
            "dispatch_id": c.dispatch_id,
            "incident_id": c.incident_id,
            "call_id": c.call_id,
        }
        live.notify_after_commit(session, None, tenant.slug, "sla", data)
        await uow.commit(session)
    else:
        await session.rollback()
    return fired


_TITLES = {
    "warning": "Peringatan SLA: {what} mendekati batas waktu",
    "breached": "SLA terlampaui: {what}",
    "escalated": "Eskalasi tingkat 2: {what} belum ditangani",
}


async def _announce(session: AsyncSession, tenant: TenantInfo, c: SlaClock, stage: str, level: int) -> None:
    """Notify supervisors and the OPD (in-app + signed webhook) and emit sla.breached."""
    opd = await session.get(Opd, c.opd_id) if c.opd_id else None
    subject = {
        "call": f"panggilan #{c.call_id}",
        "incident": f"insiden #{c.incident_id}",
        "dispatch": f"penugasan #{c.dispatch_id}",
    }[c.subject]
    what = f"{KIND_SHORT[c.kind]} {subject}" + (f" ({opd.name})" if opd else "")
    title = _TITLES[stage].format(what=what)
    body = f"Target {format_duration(c.target_s)}, batas {c.deadline:%H:%M:%S} UTC, prioritas P{c.priority}."
    if stage != "warning":
        body += f" Terlambat {format_duration((c.lateness_ms or 0) / 1000)} saat terdeteksi."
    if opd and opd.escalation_contact and level >= 1:
        body += f" Kontak eskalasi {opd.name}: {opd.escalation_contact}."
    link = f"/t/{tenant.slug}/sla/clocks/{c.id}"
    data = {
        "clock_id": c.id,
        "kind": c.kind,
        "subject": c.subject,
        "dispatch_id": c.dispatch_id,
        "incident_id": c.incident_id,
        "call_id": c.call_id,
        "deadline": c.deadline.isoformat(),
        "lateness_ms": c.lateness_ms,
        "level": level,
    }
    kind = f"sla.{stage}"
    await add_notification(
        session,
        audience="supervisors",
        kind=kind,
        level=level,
        title=title,
        body=body,
        link=link,
        data=data,
        dedupe_key=f"sla:{c.id}:{stage}:supervisors",
    )
    if opd is not None:
        await add_notification(
            session,
            audience="opd",
            opd_id=opd.id,
            kind=kind,
            level=level,
            title=title,
            body=body,
            link=link,
            data=data,
            dedupe_key=f"sla:{c.id}:{stage}:opd",
        )
        if stage != "warning":
            payload = {
                "event": kind,
                "tenant": tenant.slug,
                "level": level,
                "title": title,
                "opd": {"code": opd.code, "name": opd.name, "escalation_contact": opd.escalation_contact},
                "clock": {
                    **data,
                    "target_s": c.target_s,
                    "started_at": c.started_at.isoformat(),
                    "breached_at": c.breached_at.isoformat() if c.breached_at else None,
                },
            }
            await queue_webhook(session, tenant.slug, opd, kind, payload, dedupe_key=f"sla:{c.id}:{stage}")
    if stage != "warning":
        await emit(session, "sla.breached", tenant, clock=c, level=level)
    else:
        await emit(session, "sla.warned", tenant, clock=c)


# --- the admin's policy editor ------------------------------------------------------------------


async def _row_to_save(session: AsyncSession, clean: dict, errors: dict) -> SlaPolicy | None:
    """The row this form may write: the one the admin opened (by id), or a new one; never an
    existing row the admin did not open (a new row for a taken priority + category is refused)."""
    if clean["policy_id"] is not None:
        policy = (
            await session.execute(
                select(SlaPolicy).where(SlaPolicy.id == clean["policy_id"]).with_for_update()
            )
        ).scalar_one_or_none()
        if policy is None:
            errors["__all__"] = "Kebijakan yang dibuka sudah dihapus; muat ulang halaman"
        return policy
    cond = (
        (SlaPolicy.category_id == clean["category_id"])
        if clean["category_id"]
        else SlaPolicy.category_id.is_(None)
    )
    taken = (
        await session.execute(select(SlaPolicy.id).where(SlaPolicy.priority == clean["priority"], cond))
    ).scalar_one_or_none()
    if taken is not None:
        errors["category_id"] = (
            f"Sudah ada kebijakan untuk P{clean['priority']} dengan kategori ini; pilih “Ubah” pada barisnya"
        )
        return None
    return SlaPolicy(
        priority=clean["priority"],
        category_id=clean["category_id"],
        scope=policy_scope(clean["priority"], clean["category_id"]),
    )


async def save_policy(
    session: AsyncSession, tenant_slug: str, form: dict[str, str], actor: Principal, origin: Origin | None
) -> tuple[SlaPolicy | None, dict[str, str]]:
    """Validate and save the admin's form (the row it was opened for, or a new one), audited in
    the same commit. Returns the saved row, or ``None`` and the problems by field (nothing written)."""
    errors, clean = policy_form_problems(form)
    if clean.get("category_id") is not None and "category_id" not in errors:
        if await session.get(Category, clean["category_id"]) is None:
            errors["category_id"] = "Kategori tidak ditemukan"
    policy = None if errors else await _row_to_save(session, clean, errors)
    if errors or policy is None:
        await session.rollback()
        return None, errors
    before = snapshot(policy) if policy.id else None
    if policy.id is None:
        session.add(policy)
    for k in (*TARGET_FIELDS, "warning_pct", "escalation_delay_s"):
        setattr(policy, k, clean[k])
    policy.updated_by = actor.user_id
    await session.flush()
    await record(
        session,
        "sla.policy_saved",
        actor_id=actor.user_id,
        actor_label=actor.name,
        origin=origin,
        entity="sla_policy",
        entity_id=policy.id,
        before=before,
        after=snapshot(policy),
    )
    await uow.commit(session)
    forget_policies(tenant_slug)
    return policy, {}


async def delete_policy(
    session: AsyncSession, tenant_slug: str, policy_id: int, actor: Principal, origin: Origin | None
) -> None:
    """Remove a category-specific row (the per-priority base rows can only be changed)."""
    policy = await session.get(SlaPolicy, policy_id)
    if policy is None:
        raise NotFoundError("Kebijakan SLA tidak ditemukan")
    if policy.category_id is None:
        raise DeniedError("Kebijakan dasar per prioritas tidak dapat dihapus; ubah targetnya saja")
    await record(
        session,
        "sla.policy_deleted",
        actor_id=actor.user_id,
        actor_label=actor.name,
        origin=origin,
        entity="sla_policy",
        entity_id=policy.id,
        before=snapshot(policy),
    )
    await session.execute(delete(SlaPolicy).where(SlaPolicy.id == policy_id))
    await uow.commit(session)
    forget_policies(tenant_slug)
