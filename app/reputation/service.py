"""National caller reputation: write outcome counts, read a caller's record, suggest a measure.

Counted outcomes: prank → prank, silent → silent, emergency and non_emergency_info → genuine
(misdial and duplicate are neither). A suggested measure is only a suggestion shown to the
operator: a 112 call is never blocked, whatever the record says.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import UTC, date, datetime, timedelta

from sqlalchemy import Date, cast, delete, func, or_, select, tuple_
from sqlalchemy.ext.asyncio import AsyncSession

from app.bounds import ascii_digits
from app.config import get_settings
from app.db import uow
from app.db.direct import Direct, insert_rows
from app.reputation.keys import current, keys
from app.reputation.models import REPUTATION_OUTCOMES
from app.reputation.models import caller_reputation as rep
from app.tenancy.models import Tenant

BUCKET = {"prank": "prank", "silent": "silent", "emergency": "genuine", "non_emergency_info": "genuine"}


def bucket(outcome: str | None) -> str | None:
    return BUCKET.get(outcome or "")


def countable(number: str | None) -> bool:
    """A real E.164 number (a call without SIM or a withheld number has no reputation)."""
    return number is not None and number.startswith("+") and ascii_digits(number[1:])


async def add(session: AsyncSession, tenant_id: int, rows: list[tuple[str, date, dict[str, int]]]) -> None:
    """Add (number, local day, {bucket: delta}) in the caller's transaction: ONE upsert statement."""
    key = current()
    merged: dict[tuple[bytes, date], dict[str, int]] = {}
    for number, day, deltas in rows:
        if not countable(number):
            continue
        into = merged.setdefault((key.digest(number), day), {"prank": 0, "silent": 0, "genuine": 0})
        for k, v in deltas.items():
            into[k] += v
    # In key order: two transactions adding to the same callers lock their rows in one order
    # (the group-commit flushes of one regency in two web processes never deadlock here).
    values = [
        {"key_id": key.id, "number_hash": "\\x" + h.hex(), "tenant_id": tenant_id, "day": d, **c}
        for (h, d), c in sorted(merged.items())
        if any(c.values())
    ]
    if values:
        await _ADD.later(session, {"rows": values})


_ADD_COLS = ("key_id", "number_hash", "tenant_id", "day", *REPUTATION_OUTCOMES)


def _add_statement():
    """The batch's rows as ONE recordset (``number_hash`` in bytea's hex text), added to the
    stored counts in key order. Run through ``Direct``: SQLAlchemy never caches a PostgreSQL
    INSERT, and this upsert was compiled again for every intake batch."""
    stmt = insert_rows(rep, "rows", _ADD_COLS, order_by=("key_id", "number_hash", "tenant_id", "day"))
    return stmt.on_conflict_do_update(
        index_elements=["key_id", "number_hash", "tenant_id", "day"],
        set_={c: func.greatest(0, rep.c[c] + stmt.excluded[c]) for c in REPUTATION_OUTCOMES},
    )


_ADD = Direct(_add_statement)


@dataclass(frozen=True)
class Record:
    prank: int = 0
    silent: int = 0
    genuine: int = 0
    regencies: int = 0  # with a prank or silent call
    days: int = 30

    @property
    def suspicious(self) -> int:
        return self.prank + self.silent


async def national_record(session: AsyncSession, number: str, days: int | None = None) -> Record:
    """The caller's counts over every regency in the window, matched under every configured key."""
    days = days or get_settings().reputation_window_days
    if not countable(number):
        return Record(days=days)
    since = datetime.now(UTC).date() - timedelta(days=days)
    pairs = [(k.id, k.digest(number)) for k in keys()]
    row = (
        await session.execute(
            select(
                func.coalesce(func.sum(rep.c.prank), 0),
                func.coalesce(func.sum(rep.c.silent), 0),
                func.coalesce(func.sum(rep.c.genuine), 0),
                func.count(func.distinct(rep.c.tenant_id)).filter(or_(rep.c.prank > 0, rep.c.silent > 0)),
            ).where(tuple_(rep.c.key_id, rep.c.number_hash).in_(pairs), rep.c.day >= since)
        )
    ).one()
    return Record(int(row[0]), int(row[1]), int(row[2]), int(row[3]), days)


# The graduated scale, mildest first. Each step is a SUGGESTION for the operator or supervisor.
MEASURES = (
    (0, None, ""),
    (1, "sms_warning", "Kirim SMS peringatan lewat kanal kabupaten/kota"),
    (2, "lower_queue", "Dahulukan panggilan lain bila beberapa berdering bersamaan"),
    (3, "supervisor_review", "Minta tinjauan supervisor"),
)


@dataclass(frozen=True)
class Measure:
    level: int
    code: str | None
    label: str


def suggest(national: Record, local_suspicious: int, local_genuine: int = 0) -> Measure:
    """Mildest first: 3+ iseng/diam → SMS; 5+ (or 3+ here) → lower queue place; 10+ or in 3+ regencies
    → supervisor review. A recent genuine emergency from the number lowers the step by one."""
    n = national.suspicious
    level = 0
    if n >= 3 or local_suspicious >= 3:
        level = 1
    if n >= 5 or local_suspicious >= 5:
        level = 2
    if n >= 10 or national.regencies >= 3:
        level = 3
    if (national.genuine or local_genuine) and level:
        level -= 1
    return Measure(*MEASURES[level])


def summary(record: Record) -> str:
    """'7 iseng di 3 kab/kota dalam 30 hari' (silent calls named when there are any)."""
    parts = [f"{record.prank} iseng"]
    if record.silent:
        parts.append(f"{record.silent} diam")
    return f"{' · '.join(parts)} di {record.regencies} kab/kota dalam {record.days} hari"


# --- retention ---------------------------------------------------------------------------------


async def purge_expired(session: AsyncSession, today: date | None = None) -> int:
    """Delete rows older than REPUTATION_RETENTION_DAYS (the cron job calls this daily)."""
    cutoff = (today or datetime.now(UTC).date()) - timedelta(days=get_settings().reputation_retention_days)
    result = await session.execute(delete(rep).where(rep.c.day < cutoff))
    await uow.commit(session)
    return getattr(result, "rowcount", 0) or 0


async def purge_tenant(session: AsyncSession, tenant_id: int) -> int:
    """Forget one regency's contributions (deletion on request, or a regency leaving)."""
    result = await session.execute(delete(rep).where(rep.c.tenant_id == tenant_id))
    await uow.commit(session)
    return getattr(result, "rowcount", 0) or 0


# --- the ministry's view: trends by province, never a number or a hash --------------------------


async def province_trends(session: AsyncSession, weeks: int = 8) -> list[dict]:
    """Per province and ISO week: prank and silent calls, and how many callers had 3+ of them."""
    since = datetime.now(UTC).date() - timedelta(weeks=weeks)
    week = cast(func.date_trunc("week", rep.c.day), Date).label("week")
    per_caller = (
        select(
            Tenant.province.label("province"),
            week,
            rep.c.number_hash,
            func.sum(rep.c.prank).label("prank"),
            func.sum(rep.c.silent).label("silent"),
        )
        .join(Tenant, Tenant.id == rep.c.tenant_id)
        .where(rep.c.day >= since)
        .group_by(Tenant.province, week, rep.c.number_hash)
        .subquery()
    )
    rows = (
        await session.execute(
            select(
                per_caller.c.province,
                per_caller.c.week,
                func.sum(per_caller.c.prank),
                func.sum(per_caller.c.silent),
                func.count().filter(per_caller.c.prank + per_caller.c.silent >= 3),
            )
            .group_by(per_caller.c.province, per_caller.c.week)
            .order_by(per_caller.c.province, per_caller.c.week)
        )
    ).all()
    return [
        {"province": p, "week": w, "prank": int(a or 0), "silent": int(b or 0), "repeat_callers": int(c or 0)}
        for p, w, a, b, c in rows
    ]
