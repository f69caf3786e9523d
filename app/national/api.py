"""JSON API for Kominfo's own tools: the same figures as /national, from the rollups only.

Authenticated by a platform API token with scope ``national:read`` (or a Kominfo cookie session).
Dates are tenant-local calendar days; ``to`` is inclusive; ratios are 0–1 (null when undefined).
Answer-time percentiles are the upper bound of a fixed histogram bucket (null = over 600 s or no data).
"""

from __future__ import annotations

import asyncio
from datetime import date
from typing import Annotated, Literal

from fastapi import APIRouter, Depends, Query
from fastapi.exceptions import RequestValidationError
from pydantic import BaseModel, Field

from app.bounds import IsoDate
from app.national import service
from app.national.service import FilterError, Filters
from app.web.deps import PublicSessionDep, api_platform_access

router = APIRouter(
    prefix="/api/v1/national",
    tags=["national (Kominfo)"],
    dependencies=[Depends(api_platform_access("kominfo", "platform_admin", scope="national:read"))],
)

FromQ = Annotated[
    IsoDate | None, Query(alias="from", description="First day (YYYY-MM-DD); default: 30 days ago")
]
ToQ = Annotated[IsoDate | None, Query(alias="to", description="Last day, inclusive; default: today (WIB)")]
ProvinceQ = Annotated[str | None, Query(max_length=100, description="Province name as in Kemendagri's list")]


def filters_dep(date_from: FromQ = None, date_to: ToQ = None, province: ProvinceQ = None) -> Filters:
    try:
        return service.make_filters(date_from, date_to, province)
    except FilterError as exc:
        raise RequestValidationError(
            [
                {"loc": ("query", field), "msg": msg, "type": "value_error"}
                for field, msg in exc.errors.items()
            ]
        ) from exc


FiltersDep = Annotated[Filters, Depends(filters_dep)]


class Period(BaseModel):
    date_from: date
    date_to: date
    province: str | None


def _period(f: Filters) -> Period:
    return Period(date_from=f.date_from, date_to=f.date_to, province=f.province)


class TimelinePoint(BaseModel):
    year: int
    launched: int


class Launch(BaseModel):
    ordinal: int
    slug: str
    name: str
    province: str
    activated_at: str


class RolloutOut(BaseModel):
    province: str | None
    total: int
    active: int
    verified: int
    pending: int
    suspended: int
    not_joined: int
    registered: int
    timeline: list[TimelinePoint]
    launches: list[Launch]


class HistogramBucket(BaseModel):
    le_s: int | None
    calls: int


class FiguresOut(BaseModel):
    calls: int
    by_outcome: dict[str, int]
    prank_silent: int
    prank_silent_ratio: float | None
    answered: int
    answer_avg_s: float | None
    answer_p50_s: int | None
    answer_p90_s: int | None
    answer_histogram: list[HistogramBucket]
    incidents: int
    dispatches: int
    sla_met: int
    sla_breached: int
    sla_compliance: float | None


class ChannelOut(BaseModel):
    """One channel's calls (text-to-112 conversations are calls with channel sms/whatsapp)."""

    channel: str
    calls: int
    answered: int
    answer_avg_s: float | None
    answer_p90_s: int | None = Field(
        description="upper bound of the 90th-percentile bucket; null: over 600 s"
    )


class SummaryOut(BaseModel):
    period: Period
    figures: FiguresOut
    incidents_by_category: dict[str, int]
    dispatches_by_opd_type: dict[str, int]
    calls_by_channel: list[ChannelOut]


class SeriesPoint(BaseModel):
    date: date
    calls_total: int
    calls_emergency: int
    prank_silent: int
    sla_met: int
    sla_breached: int


class TimeseriesOut(BaseModel):
    period: Period
    granularity: Literal["day", "week", "month"]
    points: list[SeriesPoint]


class ProvinceOut(BaseModel):
    name: str
    regencies: int
    active: int
    verified: int
    pending: int
    suspended: int
    not_joined: int
    figures: FiguresOut


class ProvincesOut(BaseModel):
    period: Period
    provinces: list[ProvinceOut]


class RegencyOut(BaseModel):
    region_code: str
    slug: str
    name: str
    province: str
    status: str
    launch_ordinal: int | None
    calls: int
    emergency: int
    prank_silent: int
    prank_silent_ratio: float | None
    sla_met: int
    sla_breached: int
    sla_compliance: float | None
    answer_p50_s: int | None
    answer_p90_s: int | None
    incidents: int
    dispatches: int


class RegenciesOut(BaseModel):
    period: Period
    sort: str
    regencies: list[RegencyOut]


@router.get(
    "/rollout",
    response_model=RolloutOut,
    summary="Rollout: active / verified / pending / not joined, launches",
)
async def rollout(session: PublicSessionDep, province: ProvinceQ = None):
    try:
        service.make_filters(None, None, province)
    except FilterError as exc:
        raise RequestValidationError(
            [{"loc": ("query", k), "msg": v, "type": "value_error"} for k, v in exc.errors.items()]
        ) from exc
    ro = await service.load_rollout(session, province or None)
    return {"province": province or None, **ro.as_dict()}


@router.get("/summary", response_model=SummaryOut, summary="Headline figures for a period")
async def summary(session: PublicSessionDep, f: FiltersDep):
    snap, cats, opds, channels = await asyncio.gather(
        service.snapshot(session, f),
        service.breakdown_cached(session, f, "category"),
        service.breakdown_cached(session, f, "opd"),
        service.by_channel_cached(session, f),
    )
    figures = snap.totals
    return {
        "period": _period(f),
        "figures": figures.as_dict(),
        "incidents_by_category": {c["category_code"]: c["incidents"] for c in cats},
        "dispatches_by_opd_type": {o["opd_type"]: o["dispatches"] for o in opds},
        "calls_by_channel": channels,
    }


@router.get(
    "/calls/timeseries",
    response_model=TimeseriesOut,
    summary="Call volumes over time (day ≤ 92 days, week ≤ 2 years, else month)",
)
async def calls_timeseries(session: PublicSessionDep, f: FiltersDep):
    return {
        "period": _period(f),
        "granularity": f.granularity,
        "points": (await service.snapshot(session, f)).timeseries(),
    }


@router.get("/provinces", response_model=ProvincesOut, summary="Every province: rollout status and figures")
async def provinces(session: PublicSessionDep, f: FiltersDep):
    rows = (await service.snapshot(session, f)).provinces()
    return {
        "period": _period(f),
        "provinces": [
            {
                "name": p.name,
                "regencies": p.regencies,
                **p.status,
                "not_joined": p.not_joined,
                "figures": p.figures.as_dict(),
            }
            for p in rows
        ],
    }


SortQ = Annotated[service.RegencySort, Query(description="column to sort by")]


@router.get("/regencies", response_model=RegenciesOut, summary="Every registered regency with its figures")
async def regencies(
    session: PublicSessionDep, f: FiltersDep, sort: SortQ = "calls", dir: Literal["asc", "desc"] = "desc"
):
    rows = (await service.snapshot(session, f)).regencies(sort, dir == "desc")
    return {"period": _period(f), "sort": f"{sort}:{dir}", "regencies": rows}
