"""The write side of the national rollups: deltas from domain events, the fold, and the full recount.

Intake never touches a shared counter row: each change appends a delta row to
``national_pending`` (one plain INSERT in the tenant's own transaction, so a call and its
delta commit together and concurrent calls of one regency don't queue on one row lock).
``fold`` (arq cron every few seconds) moves committed deltas into the day rows with
``DELETE … RETURNING`` + aggregate + upsert in one transaction.

Recount vs deltas: the recount takes an exclusive per-tenant advisory lock; every delta INSERT
takes the shared form of the same lock in the same statement (no extra round trip). So a
recount waits for in-flight intake transactions of that tenant to commit (their rows are then
visible to it) and drops their deltas (already reflected in what it recounts); intake that
starts meanwhile waits, and its delta lands after the recount. Recount vs fold: the fold holds
an exclusive global lock, each recount its shared form, so a recount never interleaves with a
fold's upserts. Nothing is counted twice or lost.
"""

from __future__ import annotations

import logging
import time
from collections import defaultdict
from dataclasses import dataclass
from datetime import UTC, date, datetime, timedelta
from zoneinfo import ZoneInfo

from sqlalchemy import Date, Integer, String, bindparam, case, cast, delete, func, insert, select, text
from sqlalchemy.dialects.postgresql import JSONB
from sqlalchemy.dialects.postgresql import insert as pg_insert
from sqlalchemy.ext.asyncio import AsyncSession

from app.calls.models import Call, Incident
from app.core.tenant import TenantInfo
from app.db import uow
from app.db.direct import Direct
from app.dispatch.models import Category, Dispatch, Opd
from app.national.models import (
    ANSWER_BUCKETS_S,
    CHANNEL_COLS,
    COUNTER_COLS,
    bucket_col,
    bucket_index,
    national_daily,
    national_daily_category,
    national_daily_channel,
    national_daily_opd,
    national_pending,
    outcome_col,
)
from app.sla.models import SlaClock
from app.tenancy.models import Tenant
from app.tenancy.registry import known_tenant

log = logging.getLogger(__name__)
REGENCY_HANDOVER = "regency"

LOCK_NAMESPACE = 112_006  # pg_advisory_xact_lock(namespace, tenant_id): recount vs intake
FOLD_LOCK = (112_007, 0)  # pg_advisory_xact_lock(*FOLD_LOCK): fold (exclusive) vs recounts (shared)
FOLD_BATCH = 20_000


def local_day(at: datetime | None, zone: ZoneInfo) -> date:
    at = at or datetime.now(UTC)
    if at.tzinfo is None:
        at = at.replace(tzinfo=UTC)
    return at.astimezone(zone).date()


def answer_ms(received_at: datetime, answered_at: datetime) -> int:
    return max(0, (answered_at - received_at) // timedelta(milliseconds=1))


# --- deltas ------------------------------------------------------------------------------------

# The shared recount lock rides in the INSERT itself (re-taking a held shared lock is free).
_PENDING_INSERT = Direct(
    text(
        "INSERT INTO public.national_pending (tenant_id, day, kind, key, deltas) "
        "SELECT :tenant_id, :day, :kind, :key, :deltas "
        f"FROM (SELECT pg_advisory_xact_lock_shared({LOCK_NAMESPACE:d}, CAST(:tenant_id AS integer))) AS shared_lock"
    ).bindparams(
        bindparam("tenant_id", type_=Integer),
        bindparam("day", type_=Date),
        bindparam("kind", type_=String),
        bindparam("key", type_=String),
        bindparam("deltas", type_=JSONB),
    )
)

# kind → (rollup table, its key column, its counter column)
KEYED = {
    "category": (national_daily_category, "category_code", "incidents"),
    "opd": (national_daily_opd, "opd_type", "dispatches"),
}


async def _append(
    session: AsyncSession, tenant: TenantInfo, day: date, kind: str, key: str, deltas: dict[str, int]
) -> None:
    await _PENDING_INSERT.later(
        session, {"tenant_id": tenant.id, "day": day, "kind": kind, "key": key, "deltas": deltas}
    )


async def bump(session: AsyncSession, tenant: TenantInfo, day: date, deltas: dict[str, int]) -> None:
    deltas = {k: v for k, v in deltas.items() if v}
    if deltas:
        await _append(session, tenant, day, "daily", "", deltas)


async def bump_keyed(
    session: AsyncSession, tenant: TenantInfo, kind: str, key: str, day: date, delta: int
) -> None:
    """``kind``: "category" (key = category code) or "opd" (key = OPD type), see KEYED."""
    if delta:
        await _append(session, tenant, day, kind, key, {KEYED[kind][2]: delta})


async def bump_channel(
    session: AsyncSession, tenant: TenantInfo, channel: str, day: date, deltas: dict[str, int]
) -> None:
    """Calls / answer-time counters of one call channel (CHANNEL_COLS; other keys are ignored)."""
    deltas = {k: v for k, v in deltas.items() if v and k in CHANNEL_COLS}
    if deltas:
        await _append(session, tenant, day, "channel", channel, deltas)


def add_deltas(into: dict[str, int], more: dict[str, int]) -> None:
    """Sum ``more`` into ``into`` (several changes folded into one delta row)."""
    for k, v in more.items():
        into[k] = into.get(k, 0) + v


def call_deltas(
    outcome: str | None, received_at: datetime | None, answered_at: datetime | None, sign: int = 1
) -> dict[str, int]:
    """The counters one call contributes (sign=-1 takes them back)."""
    d = {"calls_total": sign, outcome_col(outcome): sign}
    d.update(answer_deltas(received_at, answered_at, sign))
    return d


def answer_deltas(
    received_at: datetime | None, answered_at: datetime | None, sign: int = 1
) -> dict[str, int]:
    if answered_at is None:
        return {}
    received_at = received_at or answered_at
    ms = answer_ms(received_at, answered_at)
    return {"calls_answered": sign, "answer_ms_sum": sign * ms, bucket_col(bucket_index(ms / 1000)): sign}


# --- fold ---------------------------------------------------------------------------------------

_TAKE = text(
    "DELETE FROM public.national_pending WHERE id IN "
    "(SELECT id FROM public.national_pending ORDER BY id LIMIT :limit) "
    "RETURNING tenant_id, day, kind, key, deltas"
)
_UPSERT_CHUNK = 1000


async def _upsert_add(
    session: AsyncSession, table, keys: tuple[str, ...], cols: list[str], rows: list[dict]
) -> None:
    """``INSERT … ON CONFLICT DO UPDATE SET c = c + excluded.c`` for many rows, key order (no deadlocks)."""
    rows.sort(key=lambda r: tuple(r[k] for k in ("tenant_id", *keys)))
    for i in range(0, len(rows), _UPSERT_CHUNK):
        stmt = pg_insert(table).values(rows[i : i + _UPSERT_CHUNK])
        stmt = stmt.on_conflict_do_update(
            index_elements=["tenant_id", *keys], set_={c: table.c[c] + stmt.excluded[c] for c in cols}
        )
        await session.execute(stmt)


async def _apply_deltas(session: AsyncSession, taken) -> None:
    daily: dict[tuple[int, date], dict[str, int]] = defaultdict(lambda: dict.fromkeys(COUNTER_COLS, 0))
    keyed: dict[str, dict[tuple[int, date, str], int]] = {k: defaultdict(int) for k in KEYED}
    channels: dict[tuple[int, date, str], dict[str, int]] = defaultdict(
        lambda: dict.fromkeys(CHANNEL_COLS, 0)
    )
    for tenant_id, day, kind, key, deltas in taken:
        if kind == "daily":
            row = daily[(tenant_id, day)]
            for col, n in deltas.items():
                if col in row:
                    row[col] += n
                else:
                    log.warning("national fold: unknown counter %r dropped", col)
        elif kind in keyed:
            keyed[kind][(tenant_id, day, key)] += deltas.get(KEYED[kind][2], 0)
        elif kind == "channel":
            crow = channels[(tenant_id, day, key)]
            for col, n in deltas.items():
                if col in crow:
                    crow[col] += n
    ids = {k[0] for k in daily} | {k[0] for m in keyed.values() for k in m} | {k[0] for k in channels}
    alive = (
        set((await session.execute(select(Tenant.id).where(Tenant.id.in_(ids)))).scalars()) if ids else set()
    )
    rows = [{"tenant_id": t, "day": d, **c} for (t, d), c in daily.items() if t in alive and any(c.values())]
    if rows:
        await _upsert_add(session, national_daily, ("day",), COUNTER_COLS, rows)
    for kind, (table, key_col, col) in KEYED.items():
        rows = [
            {"tenant_id": t, "day": d, key_col: k, col: n}
            for (t, d, k), n in keyed[kind].items()
            if t in alive and n
        ]
        if rows:
            await _upsert_add(session, table, ("day", key_col), [col], rows)
    rows = [
        {"tenant_id": t, "day": d, "channel": ch, **c}
        for (t, d, ch), c in channels.items()
        if t in alive and any(c.values())
    ]
    if rows:
        await _upsert_add(session, national_daily_channel, ("day", "channel"), CHANNEL_COLS, rows)


async def fold(db, *, wait: bool = True) -> int:
    """Move committed deltas into the rollup rows; returns how many deltas were folded.

    ``wait=False`` (the cron) returns at once if another fold is running: it is doing the work.
    Deltas of transactions still in flight are invisible here and wait for the next fold.
    """
    total = 0
    while True:
        async with db.public() as session:
            if wait:
                await session.execute(select(func.pg_advisory_xact_lock(*FOLD_LOCK)))
            elif not (await session.execute(select(func.pg_try_advisory_xact_lock(*FOLD_LOCK)))).scalar_one():
                return total
            taken = (await session.execute(_TAKE, {"limit": FOLD_BATCH})).all()
            if not taken:
                return total
            await _apply_deltas(session, taken)
            await uow.commit(session)
        total += len(taken)
        if len(taken) < FOLD_BATCH:
            return total


# --- recount ------------------------------------------------------------------------------------


def _day(column, zone_name: str):
    return cast(func.timezone(zone_name, column), Date)


def _bucket_expr(seconds):
    return case(
        *[(seconds <= bound, i) for i, bound in enumerate(ANSWER_BUCKETS_S)], else_=len(ANSWER_BUCKETS_S)
    )


async def recount(session: AsyncSession, tenant: TenantInfo) -> tuple[dict, dict, dict, dict]:
    """Rows for the four rollup tables (daily, category, OPD, channel), computed from the tenant's
    own tables (tenant-bound session)."""
    zone = tenant.zoneinfo_name
    daily: dict[date, dict[str, int]] = defaultdict(lambda: dict.fromkeys(COUNTER_COLS, 0))
    channels: dict[tuple[date, str], dict[str, int]] = defaultdict(lambda: dict.fromkeys(CHANNEL_COLS, 0))

    day = _day(Call.received_at, zone)
    for d, outcome, channel, n in (
        await session.execute(
            select(day, Call.outcome, Call.channel, func.count()).group_by(day, Call.outcome, Call.channel)
        )
    ).all():
        daily[d]["calls_total"] += n
        daily[d][outcome_col(outcome)] += n
        channels[(d, channel)]["calls_total"] += n

    seconds = func.extract("epoch", Call.answered_at - Call.received_at)
    ms = func.greatest(func.floor(seconds * 1000), 0)
    bucket = _bucket_expr(seconds)
    for d, channel, b, n, total_ms in (
        await session.execute(
            select(day, Call.channel, bucket, func.count(), func.sum(ms))
            .where(Call.answered_at.is_not(None))
            .group_by(day, Call.channel, bucket)
        )
    ).all():
        for row in (daily[d], channels[(d, channel)]):
            row["calls_answered"] += n
            row["answer_ms_sum"] += int(total_ms or 0)
            row[bucket_col(int(b))] += n

    categories: dict[tuple[date, str], int] = {}
    iday = _day(Incident.opened_at, zone)
    for d, code, n in (
        await session.execute(
            select(iday, Category.code, func.count())
            .join(Category, Category.id == Incident.category_id)
            .where(Incident.handover_source.is_distinct_from(REGENCY_HANDOVER))
            .group_by(iday, Category.code)
        )
    ).all():
        categories[(d, code)] = n
        daily[d]["incidents"] += n
    # A regency-to-regency hand-over: counted once (here, at the receiver that accepted it),
    # never as a second incident (the sender's incident is the one counted).
    for d, n in (
        await session.execute(
            select(iday, func.count()).where(Incident.handover_source == REGENCY_HANDOVER).group_by(iday)
        )
    ).all():
        daily[d]["handovers"] += n

    opds: dict[tuple[date, str], int] = {}
    dday = _day(Dispatch.sent_at, zone)
    for d, opd_type, n in (
        await session.execute(
            select(dday, Opd.type, func.count()).join(Opd, Opd.id == Dispatch.opd_id).group_by(dday, Opd.type)
        )
    ).all():
        opds[(d, opd_type)] = n
        daily[d]["dispatches"] += n

    for d, met, breached in await _recount_sla(session, zone):
        daily[d]["sla_met"] += met
        daily[d]["sla_breached"] += breached
    return daily, categories, opds, channels


async def _recount_sla(session: AsyncSession, zone: str) -> list[tuple[date, int, int]]:
    """OPD SLA clocks (app.sla, subject 'dispatch') stopped as 'done', per local day of stopping;
    cancelled ones are not measurements (app.sla emits sla.clock_closed only for 'done' clocks: the same rule)."""
    d = _day(SlaClock.stopped_at, zone)
    rows = (
        await session.execute(
            select(
                d, func.count().filter(SlaClock.met.is_(True)), func.count().filter(SlaClock.met.is_(False))
            )
            .where(
                SlaClock.stopped_at.is_not(None),
                SlaClock.close_reason == "done",
                SlaClock.met.is_not(None),
                SlaClock.subject == "dispatch",  # OPD clocks only (handlers.on_sla_clocks_closed)
            )
            .group_by(d)
        )
    ).all()
    return [(r[0], r[1], r[2]) for r in rows]


async def _sync(session: AsyncSession, table, tenant_id: int, keys: tuple[str, ...], wanted: dict) -> int:
    """Make the tenant's rows equal ``wanted`` ({key tuple: counters}) touching only the rows that
    differ: a nightly recount that finds nothing wrong writes nothing (no bloat, and rows keep the
    day-by-day physical order the dashboard's range scans like)."""
    values = [c.name for c in table.c if c.name not in ("tenant_id", *keys)]
    have = {
        tuple(r[k] for k in keys): {v: r[v] for v in values}
        for r in (await session.execute(select(table).where(table.c.tenant_id == tenant_id))).mappings()
    }
    full = {k: {v: counters.get(v, 0) for v in values} for k, counters in wanted.items()}
    stale = [k for k in have if have[k] != full.get(k)]
    fresh = [k for k in full if have.get(k) != full[k]]
    for k in stale:
        await session.execute(
            delete(table).where(
                table.c.tenant_id == tenant_id,
                *[table.c[col] == val for col, val in zip(keys, k, strict=False)],
            )
        )
    if fresh:
        await session.execute(
            insert(table),
            [{"tenant_id": tenant_id, **dict(zip(keys, k, strict=False)), **full[k]} for k in fresh],
        )
    return len(stale) + len(fresh)


async def rebuild_tenant(db, slug: str) -> int:
    """Recompute one tenant's rollup rows and make the stored ones equal, in one transaction;
    returns the day-row count."""
    async with db.tenant(slug) as session:
        tenant = await known_tenant(session, slug)
        await session.execute(select(func.pg_advisory_xact_lock(LOCK_NAMESPACE, tenant.id)))
        await session.execute(select(func.pg_advisory_xact_lock_shared(*FOLD_LOCK)))
        # Its committed deltas are in the data recounted below; later ones wait for our lock.
        await session.execute(delete(national_pending).where(national_pending.c.tenant_id == tenant.id))
        daily, categories, opds, channels = await recount(session, tenant)
        changed = await _sync(
            session, national_daily, tenant.id, ("day",), {(d,): counters for d, counters in daily.items()}
        )
        changed += await _sync(
            session,
            national_daily_category,
            tenant.id,
            ("day", "category_code"),
            {k: {"incidents": n} for k, n in categories.items()},
        )
        changed += await _sync(
            session,
            national_daily_opd,
            tenant.id,
            ("day", "opd_type"),
            {k: {"dispatches": n} for k, n in opds.items()},
        )
        changed += await _sync(session, national_daily_channel, tenant.id, ("day", "channel"), channels)
        await uow.commit(session)
        if changed:
            log.info("national recount of %s corrected %d rollup rows", slug, changed)
        return len(daily)


async def tenant_slugs(db) -> list[str]:
    """Every tenant with a schema (pending ones may already take trial calls)."""
    async with db.public() as session:
        return list((await session.execute(select(Tenant.slug).order_by(Tenant.id))).scalars())


@dataclass
class RebuildResult:
    ok: list[str]
    failed: dict[str, str]
    rows: int
    seconds: float


async def rebuild_all(db, slugs: list[str] | None = None, workers: int = 4) -> RebuildResult:
    """Recount many tenants, ``workers`` at a time; one tenant's failure doesn't stop the rest."""
    import asyncio

    started = time.perf_counter()
    slugs = slugs or await tenant_slugs(db)
    result = RebuildResult([], {}, 0, 0.0)
    gate = asyncio.Semaphore(max(1, workers))

    async def one(slug: str) -> None:
        async with gate:
            try:
                result.rows += await rebuild_tenant(db, slug)
                result.ok.append(slug)
            except Exception as exc:  # reported per tenant; the others go on
                log.exception("national rebuild failed for %s", slug)
                result.failed[slug] = str(exc)

    await asyncio.gather(*(one(s) for s in slugs))
    result.seconds = time.perf_counter() - started
    return result
