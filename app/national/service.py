"""Read side of the national dashboard: every figure comes from public tables only
(``tenants`` + the rollups), never from a tenant schema, so a request costs the same at 6 or 514
regencies. Shared by the HTML pages, the CSV exports and the JSON API.
"""

from __future__ import annotations

import asyncio
import contextvars
from collections import defaultdict
from dataclasses import dataclass, field, replace
from datetime import UTC, date, datetime, timedelta
from typing import Literal, get_args
from zoneinfo import ZoneInfo

from sqlalchemy import Date, DateTime, and_, cast, func, select
from sqlalchemy.ext.asyncio import AsyncEngine, AsyncSession

from app.core.cache import TtlCache
from app.core.errors import FieldErrors
from app.national.models import (
    ANSWER_BUCKETS_S,
    BUCKET_COLS,
    CHANNEL_COLS,
    OUTCOME_COLS,
    national_daily,
    national_daily_category,
    national_daily_channel,
    national_daily_opd,
)
from app.tenancy.models import Tenant
from app.tenancy.regions import provinces, regencies
from app.tenancy.registry import TenantInfo, tenant_info

NATIONAL_TOTAL = 514
STATUSES = ("active", "verified", "pending", "suspended")
MAX_RANGE_DAYS = 3660
DEFAULT_RANGE_DAYS = 30
SUMMED = [
    "calls_total",
    *OUTCOME_COLS,
    "calls_answered",
    "answer_ms_sum",
    *BUCKET_COLS,
    "incidents",
    "dispatches",
    "handovers",
    "sla_met",
    "sla_breached",
]


class FilterError(FieldErrors):
    """A dashboard filter (dates, province) that cannot be shown."""


@dataclass(frozen=True)
class Filters:
    date_from: date
    date_to: date  # inclusive
    province: str | None = None

    @property
    def days(self) -> int:
        return (self.date_to - self.date_from).days + 1

    @property
    def granularity(self) -> str:
        return "day" if self.days <= 92 else "week" if self.days <= 731 else "month"

    def query(self, **extra) -> dict:
        q = {"from": self.date_from.isoformat(), "to": self.date_to.isoformat()}
        if self.province:
            q["province"] = self.province
        q.update({k: v for k, v in extra.items() if v is not None})
        return q


def today_wib() -> date:
    return datetime.now(UTC).astimezone(ZoneInfo("Asia/Jakarta")).date()


def local_clock(at: datetime) -> str:
    """'16:52:03 WIB': when the shown figures were read (the ministry works in Jakarta time)."""
    return at.astimezone(ZoneInfo("Asia/Jakarta")).strftime("%H:%M:%S WIB")


def province_names() -> list[str]:
    return sorted(provinces().values())


def make_filters(date_from: date | None, date_to: date | None, province: str | None) -> Filters:
    """Defaults (the last 30 days, whole country) and validation shared by page and API."""
    errors = {}
    to = date_to or today_wib()
    frm = date_from or (to - timedelta(days=DEFAULT_RANGE_DAYS - 1))
    if frm > to:
        errors["from"] = "Tanggal awal harus sebelum tanggal akhir"
    elif (to - frm).days + 1 > MAX_RANGE_DAYS:
        errors["from"] = f"Rentang paling panjang {MAX_RANGE_DAYS} hari"
    province = (province or "").strip() or None
    if province and province not in provinces().values():
        errors["province"] = "Provinsi tidak dikenal"
    if errors:
        raise FilterError(errors)
    return Filters(frm, to, province)


# --- derived figures ------------------------------------------------------------------------------


def ratio(num: int, den: int) -> float | None:
    return round(num / den, 4) if den else None


def percentile_bound(buckets: list[int], p: float) -> int | None:
    """Upper bound (s) of the histogram bucket holding the p-quantile; None = the open last bucket
    (> 600 s) or no data. Resolution is the bucket width, by design."""
    total = sum(buckets)
    if not total:
        return None
    need = p * total
    running = 0
    for i, n in enumerate(buckets):
        running += n
        if running >= need:
            return ANSWER_BUCKETS_S[i] if i < len(ANSWER_BUCKETS_S) else None
    return None


@dataclass
class Figures:
    """Summed counters plus the figures everyone asks for."""

    counters: dict[str, int] = field(default_factory=lambda: dict.fromkeys(SUMMED, 0))

    def __getitem__(self, key: str) -> int:
        return self.counters[key]

    @property
    def calls(self) -> int:
        return self.counters["calls_total"]

    @property
    def prank_silent(self) -> int:
        return self.counters["calls_prank"] + self.counters["calls_silent"]

    @property
    def prank_silent_ratio(self) -> float | None:
        return ratio(self.prank_silent, self.calls)

    @property
    def sla_compliance(self) -> float | None:
        met, breached = self.counters["sla_met"], self.counters["sla_breached"]
        return ratio(met, met + breached)

    @property
    def answer_avg_s(self) -> float | None:
        n = self.counters["calls_answered"]
        return round(self.counters["answer_ms_sum"] / n / 1000, 1) if n else None

    @property
    def buckets(self) -> list[int]:
        return [self.counters[c] for c in BUCKET_COLS]

    @property
    def answer_p50_s(self) -> int | None:
        return percentile_bound(self.buckets, 0.5)

    @property
    def answer_p90_s(self) -> int | None:
        return percentile_bound(self.buckets, 0.9)

    @property
    def answer_over_max(self) -> dict[str, bool]:
        """Whether p50/p90 fell in the open bucket (to tell '> 600 s' from 'no data')."""
        has = self.counters["calls_answered"] > 0
        return {"p50": has and self.answer_p50_s is None, "p90": has and self.answer_p90_s is None}

    def as_dict(self) -> dict:
        c = self.counters
        return {
            "calls": c["calls_total"],
            "by_outcome": {col.removeprefix("calls_"): c[col] for col in OUTCOME_COLS},
            "prank_silent": self.prank_silent,
            "prank_silent_ratio": self.prank_silent_ratio,
            "answered": c["calls_answered"],
            "answer_avg_s": self.answer_avg_s,
            "answer_p50_s": self.answer_p50_s,
            "answer_p90_s": self.answer_p90_s,
            "answer_histogram": [
                {"le_s": ANSWER_BUCKETS_S[i] if i < len(ANSWER_BUCKETS_S) else None, "calls": n}
                for i, n in enumerate(self.buckets)
            ],
            "incidents": c["incidents"],
            "dispatches": c["dispatches"],
            "handovers": c["handovers"],
            "sla_met": c["sla_met"],
            "sla_breached": c["sla_breached"],
            "sla_compliance": self.sla_compliance,
        }


def _figures(values) -> Figures:
    """From a row of SUMMED sums in column order (one dict build, no per-column getattr)."""
    return Figures(dict(zip(SUMMED, map(int, values), strict=False)))


def _total(figs) -> Figures:
    """Column-wise sum of many Figures (provinces, the nation) in one pass per column."""
    figs = [f.counters.values() for f in figs]
    if not figs:
        return Figures()
    return Figures(dict(zip(SUMMED, map(sum, zip(*figs, strict=False)), strict=False)))


def _range(f: Filters):
    return and_(national_daily.c.day >= f.date_from, national_daily.c.day <= f.date_to)


def _in_province(stmt, f: Filters, day_table=national_daily):
    if f.province:
        stmt = stmt.join(Tenant, Tenant.id == day_table.c.tenant_id).where(Tenant.province == f.province)
    return stmt


# --- queries --------------------------------------------------------------------------------------


def _bucket_dates(f: Filters) -> list[date]:
    unit = f.granularity
    out, d = [], _trunc(f.date_from, unit)
    while d <= f.date_to:
        out.append(d)
        if unit == "day":
            d += timedelta(days=1)
        elif unit == "week":
            d += timedelta(days=7)
        else:
            d = (d.replace(day=28) + timedelta(days=4)).replace(day=1)
    return out


def _trunc(d: date, unit: str) -> date:
    if unit == "week":
        return d - timedelta(days=d.weekday())
    if unit == "month":
        return d.replace(day=1)
    return d


SERIES = ("calls_total", "calls_emergency", "prank_silent", "sla_met", "sla_breached")


async def _all(conn, stmt) -> list:
    return (await conn.execute(stmt)).all()


async def read(session: AsyncSession, query):
    """``await query(conn)`` on a pooled connection of its own, so independent aggregates of one
    dashboard request run at the same time (one per core) instead of one after another on the
    request's session. Public tables only: these connections carry no tenant binding."""
    engine = session.bind
    assert isinstance(engine, AsyncEngine)  # the public session is bound to the engine itself
    async with engine.connect() as conn:
        return await query(conn)


async def load_tenants(session: AsyncSession) -> list[TenantInfo]:
    """The whole registry (≤ 514 rows): statuses, launches and the tenant → province map."""
    rows = (await session.execute(select(Tenant.__table__))).mappings().all()
    return [tenant_info(r) for r in rows]


@dataclass
class ProvinceRow:
    name: str
    regencies: int
    status: dict[str, int]
    figures: Figures
    series: list[int]

    @property
    def registered(self) -> int:
        return sum(self.status.values())

    @property
    def not_joined(self) -> int:
        return max(0, self.regencies - self.registered)

    @property
    def coverage(self) -> float:
        return self.status.get("active", 0) / self.regencies if self.regencies else 0.0


def regencies_per_province() -> dict[str, int]:
    counts: dict[str, int] = defaultdict(int)
    for reg in regencies().values():
        counts[reg.province] += 1
    return counts


@dataclass
class Rollout:
    total: int
    status: dict[str, int]
    launches: list[dict]  # one per activated tenant: ordinal, name, province, activated_at

    @property
    def registered(self) -> int:
        return sum(self.status.values())

    @property
    def not_joined(self) -> int:
        return max(0, self.total - self.registered)

    def timeline(self) -> list[dict]:
        """Cumulative launches at the end of each year."""
        by_year: dict[int, int] = {}
        for launch in self.launches:
            by_year[launch["activated_at"].year] = launch["ordinal"]
        return [{"year": y, "launched": n} for y, n in sorted(by_year.items())]

    def as_dict(self) -> dict:
        return {
            "total": self.total,
            **self.status,
            "not_joined": self.not_joined,
            "registered": self.registered,
            "timeline": self.timeline(),
            "launches": [
                {k: v for k, v in x.items() if k != "tenant_id"}
                | {"activated_at": x["activated_at"].isoformat()}
                for x in self.launches
            ],
        }


def launches(tenants: list[TenantInfo]) -> list[dict]:
    """Every activation in order: the n-th regency to launch 112 nationally."""
    active = sorted((t for t in tenants if t.activated_at is not None), key=lambda t: (t.activated_at, t.id))
    return [
        {
            "ordinal": i,
            "tenant_id": t.id,
            "slug": t.slug,
            "name": t.name,
            "province": t.province,
            "activated_at": t.activated_at,
        }
        for i, t in enumerate(active, start=1)
    ]


def rollout(tenants: list[TenantInfo], province: str | None = None) -> Rollout:
    chosen = [t for t in tenants if not province or t.province == province]
    status = dict.fromkeys(STATUSES, 0)
    for t in chosen:
        status[t.status] = status.get(t.status, 0) + 1
    total = regencies_per_province().get(province, 0) if province else NATIONAL_TOTAL
    # Ordinals are national; within a province they are renumbered for its own timeline.
    found = launches(chosen)
    return Rollout(total, status, found)


async def load_rollout(session: AsyncSession, province: str | None = None) -> Rollout:
    return rollout(await load_tenants(session), province)


REGENCY_SORTS = {
    "name": lambda r: r["name"].lower(),
    "province": lambda r: (r["province"].lower(), r["name"].lower()),
    "status": lambda r: r["status"],
    "launch": lambda r: r["launch_ordinal"] or 10**6,
    "calls": lambda r: r["calls"],
    "emergency": lambda r: r["emergency"],
    "prank_silent_ratio": lambda r: -1 if r["prank_silent_ratio"] is None else r["prank_silent_ratio"],
    "sla_compliance": lambda r: -1 if r["sla_compliance"] is None else r["sla_compliance"],
    "answer_p90_s": lambda r: -1 if r["answer_p90_s"] is None else r["answer_p90_s"],
    "incidents": lambda r: r["incidents"],
    "dispatches": lambda r: r["dispatches"],
}
# The same names as a type, for the API's query parameter (checked against the dict at import).
RegencySort = Literal[
    "name", "province", "status", "launch", "calls", "emergency", "prank_silent_ratio",
    "sla_compliance", "answer_p90_s", "incidents", "dispatches",
]  # fmt: skip
if set(get_args(RegencySort)) != set(REGENCY_SORTS):
    raise RuntimeError("RegencySort and REGENCY_SORTS name different columns")


@dataclass
class Snapshot:
    """Everything the dashboard shows for one period, from two aggregates of national_daily:
    every counter per tenant (→ totals, provinces, regencies) and the five charted series per
    (province, bucket) (→ national and provincial time series, sparklines). Measured: this is
    cheaper than one GROUPING SETS pass, which sums every counter three times.
    """

    filters: Filters
    tenants: list[TenantInfo]
    by_tenant: dict[int, Figures]
    by_province_bucket: dict[tuple[str, date], dict[str, int]]
    as_of: datetime = field(default_factory=lambda: datetime.now(UTC))

    @classmethod
    async def load(cls, session: AsyncSession, f: Filters) -> Snapshot:
        c = national_daily.c
        # A plain date column groups far cheaper than date_trunc (which goes through timestamptz).
        bucket = (
            c.day
            if f.granularity == "day"
            else cast(func.date_trunc(f.granularity, cast(c.day, DateTime)), Date)
        ).label("bucket")
        per_tenant = (
            select(c.tenant_id, *[func.sum(c[col]) for col in SUMMED]).where(_range(f)).group_by(c.tenant_id)
        )
        per_province_bucket = (
            select(
                Tenant.province,
                bucket,
                func.sum(c.calls_total),
                func.sum(c.calls_emergency),
                func.sum(c.calls_prank + c.calls_silent),
                func.sum(c.sla_met),
                func.sum(c.sla_breached),
            )
            .select_from(national_daily)
            .join(Tenant, Tenant.id == c.tenant_id)
            .where(_range(f))
            .group_by(Tenant.province, bucket)
        )
        tenants, by_tenant_rows, by_pb_rows = await asyncio.gather(
            read(session, load_tenants),
            read(session, lambda conn: _all(conn, per_tenant)),
            read(session, lambda conn: _all(conn, per_province_bucket)),
        )
        by_tenant = {r[0]: _figures(r[1:]) for r in by_tenant_rows}
        by_pb = {
            (r[0], r[1]): dict(zip(SERIES, (int(v or 0) for v in r[2:]), strict=False)) for r in by_pb_rows
        }
        return cls(f, tenants, by_tenant, by_pb)

    def _chosen(self) -> list[TenantInfo]:
        p = self.filters.province
        return [t for t in self.tenants if not p or t.province == p]

    @property
    def totals(self) -> Figures:
        return _total(self.by_tenant[t.id] for t in self._chosen() if t.id in self.by_tenant)

    def timeseries(self) -> list[dict]:
        """National (or the filtered province's) volumes per day/week/month, gaps filled with zeros."""
        p = self.filters.province
        summed: dict[date, dict[str, int]] = defaultdict(lambda: dict.fromkeys(SERIES, 0))
        for (province, d), values in self.by_province_bucket.items():
            if not p or province == p:
                for k, v in values.items():
                    summed[d][k] += v
        return [{"date": d, **summed[d]} for d in _bucket_dates(self.filters)]

    def provinces(self) -> list[ProvinceRow]:
        """All 38 provinces (the province filter does not hide the others: it is the map's data)."""
        per_province = regencies_per_province()
        status: dict[str, dict[str, int]] = defaultdict(lambda: dict.fromkeys(STATUSES, 0))
        members: dict[str, list[Figures]] = defaultdict(list)
        for t in self.tenants:
            status[t.province][t.status] += 1
            if t.id in self.by_tenant:
                members[t.province].append(self.by_tenant[t.id])
        dates = _bucket_dates(self.filters)
        names = sorted(set(per_province) | set(status))
        return [
            ProvinceRow(
                name,
                per_province.get(name, 0),
                dict(status[name]),
                _total(members[name]),
                [self.by_province_bucket.get((name, d), {}).get("calls_total", 0) for d in dates],
            )
            for name in names
        ]

    def rollout(self) -> Rollout:
        return rollout(self.tenants, self.filters.province)

    def regencies(self, sort: str = "calls", descending: bool = True) -> list[dict]:
        """One row per registered regency (zero rows included), sorted in Python (≤ 514 rows)."""
        ordinal = {x["tenant_id"]: x["ordinal"] for x in launches(self.tenants)}
        rows = []
        for t in self._chosen():
            fig = self.by_tenant.get(t.id) or Figures()
            rows.append(
                {
                    "tenant_id": t.id,
                    "slug": t.slug,
                    "name": t.name,
                    "region_code": t.region_code,
                    "province": t.province,
                    "status": t.status,
                    "launch_ordinal": ordinal.get(t.id),
                    "calls": fig.calls,
                    "emergency": fig["calls_emergency"],
                    "prank_silent": fig.prank_silent,
                    "prank_silent_ratio": fig.prank_silent_ratio,
                    "sla_met": fig["sla_met"],
                    "sla_breached": fig["sla_breached"],
                    "sla_compliance": fig.sla_compliance,
                    "answer_p50_s": fig.answer_p50_s,
                    "answer_p90_s": fig.answer_p90_s,
                    "incidents": fig["incidents"],
                    "dispatches": fig["dispatches"],
                }
            )
        key = REGENCY_SORTS.get(sort, REGENCY_SORTS["calls"])
        rows.sort(key=lambda r: str(r["name"]).lower())
        rows.sort(key=key, reverse=descending)
        return rows


async def breakdown(session: AsyncSession, f: Filters, kind: str) -> list[dict]:
    """Incidents by category code (kind="category") or dispatches by OPD type (kind="opd")."""
    table, key, value = (
        (national_daily_category, "category_code", "incidents")
        if kind == "category"
        else (national_daily_opd, "opd_type", "dispatches")
    )
    stmt = (
        select(table.c[key], func.sum(table.c[value]))
        .where(table.c.day >= f.date_from, table.c.day <= f.date_to)
        .group_by(table.c[key])
    )
    stmt = _in_province(stmt, f, table)
    rows = [(k, int(n)) for k, n in (await session.execute(stmt)).all() if n]
    rows.sort(key=lambda kv: (-kv[1], kv[0]))
    return [{key: k, value: n} for k, n in rows]


async def by_channel(session: AsyncSession, f: Filters) -> list[dict]:
    """Calls and answer times per channel (voice, sms, whatsapp, …): text-to-112 reported on its
    own. The same calls are in the headline totals; this only splits them."""
    t = national_daily_channel
    stmt = (
        select(t.c.channel, *[func.sum(t.c[c]) for c in CHANNEL_COLS])
        .where(t.c.day >= f.date_from, t.c.day <= f.date_to)
        .group_by(t.c.channel)
    )
    stmt = _in_province(stmt, f, t)
    out = []
    for channel, *sums in (await session.execute(stmt)).all():
        v = dict(zip(CHANNEL_COLS, (int(x or 0) for x in sums), strict=True))
        if not v["calls_total"]:
            continue
        answered = v["calls_answered"]
        out.append(
            {
                "channel": channel,
                "calls": v["calls_total"],
                "answered": answered,
                "answer_avg_s": round(v["answer_ms_sum"] / answered / 1000, 1) if answered else None,
                "answer_p90_s": percentile_bound([v[c] for c in BUCKET_COLS], 0.9),
            }
        )
    out.sort(key=lambda r: (-r["calls"], r["channel"]))
    return out


# --- short-lived cache ----------------------------------------------------------------------------
# The rollups move every few seconds anyway, so a dashboard a few seconds stale is honest (the page
# says how old its figures are) and lets N viewers and every sort/map/htmx variant share one set of
# queries. Per process (each uvicorn worker has its own); values are treated as immutable.

CACHE_TTL_S = 10.0
# app.core.cache: concurrent misses of one key run the queries once, in a task of their own.
_cache: TtlCache = TtlCache(lambda: CACHE_TTL_S, maxsize=256)


# Set (in a task's context) by the pre-warmer: recompute and store even if the entry is fresh.
refreshing: contextvars.ContextVar[bool] = contextvars.ContextVar("national_cache_refresh", default=False)


def clear_cache() -> None:
    _cache.clear()


def cached_entries() -> dict:
    """What the cache holds now (key → value), for the pre-warmer's tests."""
    keys = _cache.keys()  # a TtlCache has keys() but is not iterable
    return {k: v for k in keys if (v := _cache.get(k)) is not None}


async def cached(key, build):
    """``await build()`` at most once per key per CACHE_TTL_S (0 disables the cache)."""
    if CACHE_TTL_S <= 0:
        return await build()
    return await _cache.get_or_load(key, build, fresh=refreshing.get())


async def snapshot(session: AsyncSession, f: Filters) -> Snapshot:
    """The period's Snapshot (province only filters in Python, so it is not part of the key)."""
    snap = await cached(("snapshot", f.date_from, f.date_to), lambda: Snapshot.load(session, f))
    return snap if snap.filters == f else replace(snap, filters=f)


async def by_channel_cached(session: AsyncSession, f: Filters) -> list[dict]:
    return await cached(("channels", f), lambda: read(session, lambda conn: by_channel(conn, f)))


async def breakdown_cached(session: AsyncSession, f: Filters, kind: str) -> list[dict]:
    return await cached(("breakdown", kind, f), lambda: read(session, lambda conn: breakdown(conn, f, kind)))
