"""JSON API for SLA: policies, compliance figures and open breaches (same services as the pages)."""

from __future__ import annotations

from datetime import date
from typing import Annotated, Literal

from fastapi import APIRouter, Depends, Query
from pydantic import BaseModel

from app.bounds import IsoDate, check_range
from app.core.principal import Principal
from app.sla import reports
from app.sla.policies import list_policies
from app.web.deps import TenantDep, TenantSessionDep, api_tenant_access

router = APIRouter(prefix="/api/v1/t/{slug}/sla", tags=["sla"])
SlaReader = Annotated[Principal, Depends(api_tenant_access("supervisor", "admin", scope="sla:read"))]
Kind = Literal["answer", "dispatch", "acknowledge", "arrival", "resolution"]


class PolicyOut(BaseModel):
    id: int
    priority: int
    category_id: int | None
    answer_s: int | None
    dispatch_s: int | None
    acknowledge_s: int | None
    arrival_s: int | None
    resolution_s: int | None
    warning_pct: int
    escalation_delay_s: int


class ComplianceRow(BaseModel):
    key: str
    label: str
    total: int
    met: int
    breached: int
    pct_met: float | None
    median_s: float | None
    p90_s: float | None


class ComplianceOut(BaseModel):
    date_from: date
    date_to: date
    timezone: str
    kind: str
    group_by: str
    rows: list[ComplianceRow]


@router.get("/policies", response_model=list[PolicyOut])
async def policies(tenant: TenantDep, session: TenantSessionDep, who: SlaReader):
    return [PolicyOut.model_validate(p, from_attributes=True) for p in await list_policies(session)]


@router.get("/compliance", response_model=ComplianceOut)
async def compliance(
    tenant: TenantDep,
    session: TenantSessionDep,
    who: SlaReader,
    date_from: Annotated[IsoDate | None, Query(alias="from")] = None,
    date_to: Annotated[IsoDate | None, Query(alias="to")] = None,
    kind: Kind = "acknowledge",
    group_by: Literal["opd", "category", "day"] = "opd",
):
    period = reports.default_period(tenant.zoneinfo_name)
    period = reports.Period(date_from or period.date_from, date_to or period.date_to, tenant.zoneinfo_name)
    check_range(period.date_from, period.date_to, "to")
    rows = await reports.compliance(session, period, kind, group_by)
    return ComplianceOut(
        date_from=period.date_from,
        date_to=period.date_to,
        timezone=period.tz,
        kind=kind,
        group_by=group_by,
        rows=[
            ComplianceRow(
                key=r.key,
                label=r.label,
                total=r.total,
                met=r.met,
                breached=r.breached,
                pct_met=r.pct,
                median_s=None if r.median_ms is None else r.median_ms / 1000,
                p90_s=None if r.p90_ms is None else r.p90_ms / 1000,
            )
            for r in rows
        ],
    )
