"""SLA compliance per OPD, per category and per day, in the tenant's own time zone.

A clock counts when it was closed normally, or is still open but already breached (a late step
must not vanish from the figures just because it is still late). Cancelled clocks (abandoned
call, rejected dispatch, incident closed) do not count. Times are the actual step durations.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date, datetime, time, timedelta
from typing import Any
from zoneinfo import ZoneInfo

from sqlalchemy import and_, func, or_, select
from sqlalchemy.ext.asyncio import AsyncSession

from app import spreadsheet
from app.dispatch.models import Category, Opd
from app.sla.models import CLOCK_KINDS, SlaClock

GROUPS = ("opd", "category", "day")
GROUP_LABELS = {"opd": "OPD", "category": "Kategori", "day": "Hari"}


@dataclass
class Row:
    key: str
    label: str
    total: int
    met: int
    median_ms: float | None
    p90_ms: float | None

    @property
    def breached(self) -> int:
        return self.total - self.met

    @property
    def pct(self) -> float | None:
        return 100.0 * self.met / self.total if self.total else None


@dataclass
class Period:
    date_from: date
    date_to: date
    tz: str

    @property
    def start(self) -> datetime:
        return datetime.combine(self.date_from, time.min, ZoneInfo(self.tz))

    @property
    def end(self) -> datetime:
        return datetime.combine(self.date_to + timedelta(days=1), time.min, ZoneInfo(self.tz))


def default_period(tz: str, today: date | None = None, days: int = 30) -> Period:
    today = today or datetime.now(ZoneInfo(tz)).date()
    return Period(today - timedelta(days=days - 1), today, tz)


def _counted():
    return or_(
        SlaClock.close_reason == "done",
        and_(SlaClock.stopped_at.is_(None), SlaClock.breached_at.is_not(None)),
    )


def _measures():
    return (
        func.count().label("total"),
        func.count().filter(SlaClock.met.is_(True)).label("met"),
        func.percentile_cont(0.5).within_group(SlaClock.actual_ms).label("median"),
        func.percentile_cont(0.9).within_group(SlaClock.actual_ms).label("p90"),
    )


async def compliance(session: AsyncSession, period: Period, kind: str, group: str) -> list[Row]:
    where = [
        SlaClock.kind == kind,
        SlaClock.started_at >= period.start,
        SlaClock.started_at < period.end,
        _counted(),
    ]
    key: Any
    label: Any
    if group == "opd":
        key, label = SlaClock.opd_id, func.coalesce(Opd.name, "(tanpa OPD)")
        stmt = select(key, label, *_measures()).outerjoin(Opd, Opd.id == SlaClock.opd_id)
    elif group == "category":
        key, label = SlaClock.category_id, func.coalesce(Category.name, "(tanpa kategori)")
        stmt = select(key, label, *_measures()).outerjoin(Category, Category.id == SlaClock.category_id)
    elif group == "day":
        key = func.date(func.timezone(period.tz, SlaClock.started_at))
        label = key
        stmt = select(key, *_measures())
    else:
        raise ValueError(group)
    stmt = stmt.where(*where)
    if group == "day":
        stmt = stmt.group_by(key).order_by(key)
        rows = (await session.execute(stmt)).all()
        return [Row(str(r[0]), r[0].strftime("%d/%m"), r.total, r.met, r.median, r.p90) for r in rows]
    stmt = stmt.group_by(key, label).order_by(label)
    return [
        Row(str(r[0]), r[1], r.total, r.met, r.median, r.p90) for r in (await session.execute(stmt)).all()
    ]


async def summary(session: AsyncSession, period: Period) -> dict[str, Row]:
    """One row per clock kind over the whole period (the headline figures)."""
    stmt = (
        select(SlaClock.kind, *_measures())
        .where(SlaClock.started_at >= period.start, SlaClock.started_at < period.end, _counted())
        .group_by(SlaClock.kind)
    )
    found = {
        r.kind: Row(r.kind, r.kind, r.total, r.met, r.median, r.p90)
        for r in (await session.execute(stmt)).all()
    }
    return {k: found.get(k, Row(k, k, 0, 0, None, None)) for k in CLOCK_KINDS}


async def open_breaches(session: AsyncSession, limit: int = 50) -> list[SlaClock]:
    return list(
        (
            await session.execute(
                select(SlaClock)
                .where(SlaClock.stopped_at.is_(None), SlaClock.breached_at.is_not(None))
                .order_by(SlaClock.deadline)
                .limit(limit)
            )
        ).scalars()
    )


CSV_HEADER = [
    "period_from",
    "period_to",
    "timezone",
    "measure",
    "group_by",
    "group",
    "total",
    "met",
    "breached",
    "pct_met",
    "median_s",
    "p90_s",
]


def to_csv(period: Period, kind: str, groups: dict[str, list[Row]]) -> str:
    """The report as CSV; OPD and category names are tenant-typed text (app.spreadsheet)."""
    return spreadsheet.to_text(
        CSV_HEADER,
        (
            [
                period.date_from,
                period.date_to,
                period.tz,
                kind,
                group,
                r.label,
                r.total,
                r.met,
                r.breached,
                "" if r.pct is None else f"{r.pct:.1f}",
                "" if r.median_ms is None else f"{r.median_ms / 1000:.1f}",
                "" if r.p90_ms is None else f"{r.p90_ms / 1000:.1f}",
            ]
            for group, rows in groups.items()
            for r in rows
        ),
    )
