"""Audit search for tenant admins and for the ministry: filters, pagination, CSV export."""

from __future__ import annotations

from datetime import date, datetime, time, timedelta
from urllib.parse import urlencode
from zoneinfo import ZoneInfo

from fastapi import APIRouter, HTTPException, Request
from fastapi.responses import StreamingResponse
from sqlalchemy import func, or_, select

from app import spreadsheet
from app.audit.models import AuditLog, PlatformAuditLog
from app.bounds import OutOfBounds, ascii_digits, parse_date
from app.web.deps import AdminDep, KominfoDep, PublicSessionDep, TenantDep, TenantSessionDep
from app.web.templating import render

router = APIRouter(tags=["audit (HTML)"])

PAGE_SIZE = 50
CSV_MAX_ROWS = 100_000
WIB = ZoneInfo("Asia/Jakarta")
FILTERS = ("action", "actor", "entity", "date_from", "date_to", "tenant")


def _parse_filters(request: Request) -> tuple[dict, dict]:
    raw = {k: request.query_params.get(k, "").strip()[:100] for k in FILTERS}
    errors = {}
    for key in ("date_from", "date_to"):
        if raw[key]:
            try:
                parse_date(raw[key], key)
            except OutOfBounds as exc:
                errors[key] = exc.message
    if not errors and raw["date_from"] and raw["date_to"] and raw["date_from"] > raw["date_to"]:
        errors["date_to"] = "Tanggal akhir sebelum tanggal awal"
    return raw, errors


def _where(model, f: dict) -> list:
    conds = []
    if f["action"]:
        conds.append(model.action.ilike(f["action"].replace("%", r"\%") + "%"))
    if f["actor"]:
        like = "%" + f["actor"].replace("%", r"\%") + "%"
        conds.append(
            or_(
                model.actor_label.ilike(like),
                model.ip == f["actor"],
                *(
                    [model.actor_id == int(f["actor"])]
                    if ascii_digits(f["actor"]) and len(f["actor"]) < 10
                    else []
                ),
            )
        )
    if f["entity"]:
        entity, _, entity_id = f["entity"].partition(":")
        conds.append(model.entity == entity)
        if entity_id:
            conds.append(model.entity_id == entity_id)
    if f["date_from"]:
        conds.append(model.at >= datetime.combine(date.fromisoformat(f["date_from"]), time.min, WIB))
    if f["date_to"]:
        conds.append(
            model.at < datetime.combine(date.fromisoformat(f["date_to"]) + timedelta(days=1), time.min, WIB)
        )
    if f.get("tenant") and hasattr(model, "tenant_slug"):
        conds.append(model.tenant_slug == f["tenant"])
    return conds


def _page_number(request: Request) -> int:
    value = request.query_params.get("page", "1")
    return max(1, min(int(value), 100_000)) if ascii_digits(value) and len(value) < 10 else 1


async def _search_page(request, session, model, base: str, title: str):
    filters, errors = _parse_filters(request)
    page = _page_number(request)
    rows, total = [], 0
    if not errors:
        conds = _where(model, filters)
        total = (await session.execute(select(func.count()).select_from(model).where(*conds))).scalar_one()
        rows = (
            (
                await session.execute(
                    select(model)
                    .where(*conds)
                    .order_by(model.at.desc(), model.id.desc())
                    .limit(PAGE_SIZE)
                    .offset((page - 1) * PAGE_SIZE)
                )
            )
            .scalars()
            .all()
        )
    query = urlencode({k: v for k, v in filters.items() if v})
    return render(
        request,
        "security/audit.html",
        {
            "title": title,
            "base": base,
            "rows": rows,
            "total": total,
            "page": page,
            "filters": filters,
            "errors": errors,
            "pages": max(1, -(-total // PAGE_SIZE)),
            "query": query,
            "platform": model is PlatformAuditLog,
        },
        status_code=422 if errors else 200,
    )


async def _csv(request, session, model, filename: str):
    filters, errors = _parse_filters(request)
    if errors:
        raise HTTPException(status_code=422, detail="; ".join(f"{k}: {v}" for k, v in errors.items()))
    columns = ["at", "actor_id", "actor_label", "ip", "action", "entity", "entity_id", "before", "after"]
    if model is PlatformAuditLog:
        columns.insert(5, "tenant_slug")
    result = await session.stream(
        select(model)
        .where(*_where(model, filters))
        .order_by(model.at.desc(), model.id.desc())
        .limit(CSV_MAX_ROWS)
    )

    async def rows():
        async for (row,) in result:
            yield [getattr(row, c).astimezone(WIB) if c == "at" else getattr(row, c) for c in columns]

    return StreamingResponse(
        spreadsheet.stream(columns, rows()),
        media_type=spreadsheet.MEDIA_TYPE,
        headers=spreadsheet.download_headers(filename),
    )


@router.get("/t/{slug}/admin/audit")
async def tenant_audit(request: Request, tenant: TenantDep, session: TenantSessionDep, admin: AdminDep):
    return await _search_page(request, session, AuditLog, f"/t/{tenant.slug}/admin/audit", "Jejak audit")


@router.get("/t/{slug}/admin/audit.csv")
async def tenant_audit_csv(request: Request, tenant: TenantDep, session: TenantSessionDep, admin: AdminDep):
    return await _csv(request, session, AuditLog, f"audit-{tenant.slug}.csv")


@router.get("/platform/audit")
async def platform_audit(request: Request, session: PublicSessionDep, user: KominfoDep):
    return await _search_page(request, session, PlatformAuditLog, "/platform/audit", "Jejak audit nasional")


@router.get("/platform/audit.csv")
async def platform_audit_csv(request: Request, session: PublicSessionDep, user: KominfoDep):
    return await _csv(request, session, PlatformAuditLog, "audit-platform.csv")
