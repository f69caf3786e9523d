"""The ministry's national dashboard (/national) and its CSV exports. Kominfo/platform roles only.

One URL serves the full page and, for htmx, just the part that changed (filters → #dashboard,
a sort click → #regencies); the filters live in the query string so every view is a link.
"""

from __future__ import annotations

import asyncio
import logging
import time
from collections.abc import Callable
from datetime import date
from typing import Annotated
from urllib.parse import urlencode

from fastapi import APIRouter, Query, Request
from fastapi.responses import HTMLResponse, JSONResponse, Response
from markupsafe import Markup

from app import glossary, spreadsheet
from app.bounds import OutOfBounds, parse_date
from app.national import service
from app.national.service import FilterError, Filters
from app.national.svg import MAP_CREDIT, launch_chart, legend, line_chart, province_map, sparkline
from app.tenancy.defaults import DEFAULT_CATEGORIES, DEFAULT_OPDS
from app.web.deps import KominfoDep, PublicSessionDep
from app.web.errors import NotFound
from app.web.templating import is_htmx, render, templates

router = APIRouter(tags=["national dashboard (HTML)"])

CATEGORY_LABELS = {code: name for code, name, _, _ in DEFAULT_CATEGORIES}
OPD_LABELS = {o["type"]: o["name"] for o in DEFAULT_OPDS} | {
    "rsud": "RSUD",
    "dprkp": "DPRKP",
    "other": "Lainnya",
}
STATUS_LABELS = glossary.TENANT_STATUS
MAP_METRICS = {
    "coverage": "Cakupan (aktif / kab-kota)",
    "calls": "Jumlah panggilan",
    "prank": "Rasio iseng + diam",
    "sla": "Kepatuhan SLA",
}
REGENCY_COLUMNS = [  # (sort key, header, default direction descending?)
    ("name", "Kabupaten/kota", False),
    ("province", "Provinsi", False),
    ("status", "Status", False),
    ("launch", "Peluncuran", False),
    ("calls", "Panggilan", True),
    ("emergency", "Darurat", True),
    ("prank_silent_ratio", "Iseng+diam", True),
    ("sla_compliance", "SLA", True),
    ("answer_p90_s", "Jawab p90", True),
    ("incidents", "Insiden", True),
    ("dispatches", "Penugasan", True),
]


def pct(v: float | None) -> str:
    return "–" if v is None else f"{v * 100:.1f}%".replace(".", ",")


def num(v: int | float | None) -> str:
    return "–" if v is None else f"{v:,.0f}".replace(",", ".")


def seconds(v: int | None, over: bool = False) -> str:
    if over:
        return "> 600 dtk"
    return "–" if v is None else f"≤ {v} dtk"


def _parse_date(raw: str | None, field: str, errors: dict) -> date | None:
    if not raw:
        return None
    try:
        return parse_date(raw, field)
    except OutOfBounds as exc:
        errors[field] = exc.message
        return None


def parse_filters(date_from: str | None, date_to: str | None, province: str | None) -> tuple[Filters, dict]:
    """Filters from the query string, or the defaults plus messages for the fields that were wrong."""
    errors: dict[str, str] = {}
    frm, to = _parse_date(date_from, "from", errors), _parse_date(date_to, "to", errors)
    try:
        filters = service.make_filters(frm, to, province)
    except FilterError as exc:
        errors.update(exc.errors)
        keep_province = province if "province" not in exc.errors else None
        try:
            filters = service.make_filters(None, None, keep_province)
        except FilterError:
            filters = service.make_filters(None, None, None)
    return filters, errors


def _map_values(provinces: list, metric: str) -> tuple[dict, dict, float, Callable]:
    values, labels = {}, {}
    for p in provinces:
        fig = p.figures
        if metric == "calls":
            values[p.name] = fig.calls if p.registered else None
            labels[p.name] = f"{num(fig.calls)} panggilan"
        elif metric == "prank":
            values[p.name] = fig.prank_silent_ratio
            labels[p.name] = f"{pct(fig.prank_silent_ratio)} iseng+diam dari {num(fig.calls)} panggilan"
        elif metric == "sla":
            values[p.name] = fig.sla_compliance
            labels[p.name] = f"SLA {pct(fig.sla_compliance)}"
        else:
            values[p.name] = p.coverage
            labels[p.name] = f"{p.status['active']} aktif dari {p.regencies} kab/kota"
    if metric in ("coverage", "prank", "sla"):
        return values, labels, 1.0, pct
    real = [v for v in values.values() if v]
    return values, labels, float(max(real) if real else 0), num


log = logging.getLogger(__name__)

REGENCY_PAGE = 50  # rows shown before "show all" (the CSV always has every row)


async def dashboard_context(
    session, filters: Filters, sort: str, descending: bool, metric: str, show_all: bool = False
) -> dict:
    snap, categories, opds, channels = await asyncio.gather(
        service.snapshot(session, filters),
        service.breakdown_cached(session, filters, "category"),
        service.breakdown_cached(session, filters, "opd"),
        service.by_channel_cached(session, filters),
    )
    rollout = snap.rollout()
    totals = snap.totals
    series = snap.timeseries()
    provinces = snap.provinces()
    regencies = snap.regencies(sort, descending)

    dates = [p["date"] for p in series]
    chart = line_chart(
        dates,
        [
            ("Semua panggilan", [p["calls_total"] for p in series], "#1d4ed8"),
            ("Iseng + diam", [p["prank_silent"] for p in series], "#f59e0b"),
            ("Darurat", [p["calls_emergency"] for p in series], "#c8102e"),
        ],
        unit=filters.granularity,
        width=1200,
        height=260,
        title="Panggilan 112 dari waktu ke waktu",
    )
    sla_chart = line_chart(
        dates,
        [
            ("SLA terpenuhi", [p["sla_met"] for p in series], "#1a7f37"),
            ("SLA terlewati", [p["sla_breached"] for p in series], "#c8102e"),
        ],
        unit=filters.granularity,
        width=600,
        height=220,
        title="SLA dari waktu ke waktu",
    )
    values, labels, peak, fmt = _map_values(provinces, metric)
    shown_provinces = [p for p in provinces if p.registered or p.figures.calls]
    shown_provinces.sort(key=lambda p: (-p.figures.calls, -p.status["active"], p.name))
    bar_peak = max([c["incidents"] for c in categories] + [o["dispatches"] for o in opds] + [1])
    return {
        "filters": filters,
        "as_of": service.local_clock(snap.as_of),
        "cache_ttl_s": service.CACHE_TTL_S,
        "rollout": rollout,
        "totals": totals,
        "series": series,
        "chart": chart,
        "sla_chart": sla_chart,
        "provinces": provinces,
        "shown_provinces": shown_provinces,
        "regencies": regencies if show_all else regencies[:REGENCY_PAGE],
        "regency_count": len(regencies),
        "show_all": show_all,
        "categories": categories,
        "opds": opds,
        "channels": channels,
        "bar_peak": bar_peak,
        "launch_chart": launch_chart(rollout.launches, rollout.total),
        "map": province_map(
            values,
            labels,
            filters.province,
            peak=peak,
            link="/national?" + urlencode({**filters.query(map=metric), "province": ""}),
        ),
        "map_legend": legend(peak, fmt),
        "map_metric": metric,
        "map_metrics": MAP_METRICS,
        "map_credit": MAP_CREDIT,
        "sort": sort,
        "descending": descending,
        "columns": REGENCY_COLUMNS,
        "province_names": service.province_names(),
        "status_labels": STATUS_LABELS,
        "category_labels": CATEGORY_LABELS,
        "opd_labels": OPD_LABELS,
        "sparkline": sparkline,
        "pct": pct,
        "num": num,
        "seconds": seconds,
        "qs": lambda **kw: urlencode(filters.query(**kw)),
    }


FRAGMENTS = {"dashboard": "national/_dashboard.html", "regencies": "national/_regencies.html"}


async def fragment(
    session, part: str, filters: Filters, sort: str, descending: bool, metric: str, show_all: bool
) -> Markup:
    """The rendered #dashboard or #regencies HTML, cached like the figures: every viewer of the same
    view shares one render (it holds no per-user data; the CSRF token lives in base.html)."""

    async def build() -> Markup:
        ctx = await dashboard_context(session, filters, sort, descending, metric, show_all)
        ctx["oob"] = part == "regencies"
        return Markup(templates.get_template(FRAGMENTS[part]).render(ctx))

    return await service.cached(("html", part, filters, sort, descending, metric, show_all), build)


DateFrom = Annotated[str | None, Query(alias="from", description="YYYY-MM-DD")]
DateTo = Annotated[str | None, Query(alias="to", description="YYYY-MM-DD, inclusive")]


def _default_descending(sort: str) -> bool:
    return dict((k, d) for k, _, d in REGENCY_COLUMNS)[sort]


# --- keeping the page people open warm -------------------------------------------------------------
# A cache miss costs ~50 ms of aggregates and rendering; with a handful of ministry viewers nearly
# every visit would be one. So each web process recomputes the DEFAULT view (last 30 days, whole
# country: what /national opens on) just before its entry expires, for as long as someone in this
# process looked at the dashboard in the last WARM_FOR_S. Filtered views are computed on demand.
WARM_FOR_S = 900.0
_last_view = float("-inf")


async def warm_default_view(db) -> None:
    """Recompute the default view's figures and fragment into the cache (also if still fresh)."""
    token = service.refreshing.set(True)
    try:
        async with db.public() as session:
            await fragment(
                session,
                "dashboard",
                service.make_filters(None, None, None),
                "calls",
                _default_descending("calls"),
                "coverage",
                False,
            )
    finally:
        service.refreshing.reset(token)


async def keep_default_view_warm(db) -> None:
    """Background task of each web process (started by the app's lifespan)."""
    while True:
        await asyncio.sleep(max(1.0, service.CACHE_TTL_S - 2.0))
        if service.CACHE_TTL_S <= 0 or time.monotonic() - _last_view > WARM_FOR_S:
            continue
        try:
            await warm_default_view(db)
        except Exception:  # a failed refresh leaves the entry to expire; the next visit rebuilds it
            log.exception("national: pre-warming the default view failed")


@router.get("/national", include_in_schema=False)
async def national_dashboard(
    request: Request,
    user: KominfoDep,
    session: PublicSessionDep,
    date_from: DateFrom = None,
    date_to: DateTo = None,
    province: str | None = None,
    sort: str = "calls",
    dir: str | None = None,
    map: str = "coverage",
    all: bool = False,
):
    global _last_view
    _last_view = time.monotonic()
    filters, errors = parse_filters(date_from, date_to, province)
    if errors and is_htmx(request):
        # The filters the person just changed are wrong: say so beside the fields (app.js), and
        # leave the figures on screen as they were rather than quietly showing other dates.
        return JSONResponse(
            {
                "detail": "Periksa filter: " + "; ".join(errors.values()),
                "errors": [{"field": k, "message": v} for k, v in errors.items()],
            },
            status_code=422,
            headers={"Vary": "HX-Request, HX-Target"},
        )
    if sort not in service.REGENCY_SORTS:
        sort = "calls"
    descending = _default_descending(sort) if dir not in ("asc", "desc") else dir == "desc"
    metric = map if map in MAP_METRICS else "coverage"
    target = request.headers.get("hx-target") if is_htmx(request) else None
    part = target if target in FRAGMENTS else "dashboard"
    html = await fragment(session, part, filters, sort, descending, metric, all)
    headers = {"Vary": "HX-Request, HX-Target"}
    if target in FRAGMENTS:
        return HTMLResponse(html, headers=headers)
    ctx = {
        "filters": filters,
        "errors": errors,
        # the dates as typed, so a wrong range stays visible beside its message (not the defaults)
        "typed": {"from": date_from or "", "to": date_to or ""} if errors else {},
        "title": "Dasbor Nasional 112 — Kominfo / Komdigi",
        "province_names": service.province_names(),
        "map_metrics": MAP_METRICS,
        "map_metric": metric,
        "sort": sort,
        "descending": descending,
        "dashboard": html,
    }
    return render(request, "national/index.html", ctx, status_code=422 if errors else 200, headers=headers)


# --- CSV exports ----------------------------------------------------------------------------------


def _csv(name: str, header: list[str], rows) -> Response:
    return Response(
        spreadsheet.to_text(header, rows),
        media_type=spreadsheet.MEDIA_TYPE,
        headers=spreadsheet.download_headers(f"siaga112-{name}.csv"),
    )


def _r(v):
    return "" if v is None else v


EXPORTS = ("rollout", "launches", "timeseries", "provinces", "regencies", "categories", "opds", "channels")


@router.get("/national/export/{name}.csv", include_in_schema=False)
async def national_export(
    request: Request,
    name: str,
    user: KominfoDep,
    session: PublicSessionDep,
    date_from: DateFrom = None,
    date_to: DateTo = None,
    province: str | None = None,
    sort: str = "calls",
    dir: str = "desc",
):
    if name not in EXPORTS:
        raise NotFound("Ekspor tidak dikenal")
    filters, errors = parse_filters(date_from, date_to, province)
    if errors:
        return Response(
            "; ".join(f"{k}: {v}" for k, v in errors.items()), status_code=422, media_type="text/plain"
        )
    if name in ("rollout", "launches", "timeseries", "provinces", "regencies"):
        snap = await service.snapshot(session, filters)
    if name == "rollout":
        rows = snap.provinces()
        return _csv(
            name,
            ["province", "regencies", "active", "verified", "pending", "suspended", "not_joined"],
            [[p.name, p.regencies, *[p.status[s] for s in service.STATUSES], p.not_joined] for p in rows],
        )
    if name == "launches":
        ro = snap.rollout()
        return _csv(
            name,
            ["ordinal", "of", "name", "province", "activated_at"],
            [
                [x["ordinal"], ro.total, x["name"], x["province"], x["activated_at"].isoformat()]
                for x in ro.launches
            ],
        )
    if name == "timeseries":
        series = snap.timeseries()
        return _csv(
            name,
            [filters.granularity, *service.SERIES],
            [[p["date"].isoformat(), *[p[k] for k in service.SERIES]] for p in series],
        )
    if name == "provinces":
        rows = snap.provinces()
        return _csv(
            name,
            [
                "province",
                "calls",
                "emergency",
                "prank_silent",
                "prank_silent_ratio",
                "sla_met",
                "sla_breached",
                "sla_compliance",
                "answer_p90_s",
                "incidents",
                "dispatches",
            ],
            [
                [
                    p.name,
                    p.figures.calls,
                    p.figures["calls_emergency"],
                    p.figures.prank_silent,
                    _r(p.figures.prank_silent_ratio),
                    p.figures["sla_met"],
                    p.figures["sla_breached"],
                    _r(p.figures.sla_compliance),
                    _r(p.figures.answer_p90_s),
                    p.figures["incidents"],
                    p.figures["dispatches"],
                ]
                for p in rows
            ],
        )
    if name == "regencies":
        regency_rows = snap.regencies(sort if sort in service.REGENCY_SORTS else "calls", dir != "asc")
        cols = [
            "region_code",
            "name",
            "province",
            "status",
            "launch_ordinal",
            "calls",
            "emergency",
            "prank_silent",
            "prank_silent_ratio",
            "sla_met",
            "sla_breached",
            "sla_compliance",
            "answer_p50_s",
            "answer_p90_s",
            "incidents",
            "dispatches",
        ]
        return _csv(name, cols, [[_r(r[c]) for c in cols] for r in regency_rows])
    if name == "channels":
        cols = ["channel", "calls", "answered", "answer_avg_s", "answer_p90_s"]
        channels = await service.by_channel_cached(session, filters)
        return _csv(name, cols, [[_r(r[c]) for c in cols] for r in channels])
    kind = "category" if name == "categories" else "opd"
    breakdown = await service.breakdown_cached(session, filters, kind)
    key, value = ("category_code", "incidents") if kind == "category" else ("opd_type", "dispatches")
    return _csv(name, [key, value], [[r[key], r[value]] for r in breakdown])
