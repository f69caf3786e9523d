"""SLA pages: the admin's policy editor and the supervisor's compliance report (htmx + CSV)."""

from __future__ import annotations

from datetime import date

from fastapi import APIRouter, Depends, Request
from fastapi.responses import RedirectResponse, Response
from sqlalchemy import select

from app import spreadsheet
from app.bounds import OutOfBounds, parse_date
from app.channels.base import CHANNEL_LABELS
from app.channels.models import MESSAGE_LABELS
from app.channels.service import delivery_log
from app.core.errors import DeniedError, NotFoundError
from app.dispatch.models import Category, Opd
from app.security.proxies import origin_of
from app.sla import reports, service
from app.sla.models import CLOCK_KINDS, SlaClock, SlaPolicy
from app.sla.policies import (
    KIND_LABELS,
    KIND_SHORT,
    TARGET_FIELDS,
    format_duration,
    list_policies,
)
from app.web.csrf import verify_csrf
from app.web.deps import AdminDep, SupervisorDep, TenantDep, TenantSessionDep, TenantUserDep
from app.web.errors import Forbidden, NotFound
from app.web.params import PathId, QueryId
from app.web.templating import is_htmx, render

router = APIRouter(prefix="/t/{slug}", dependencies=[Depends(verify_csrf)], tags=["sla (HTML)"])


# --- policies (admin) -------------------------------------------------------------------------


def _form_of(p: SlaPolicy | None) -> dict:
    """The form for a new row (no priority chosen yet) or for an existing row, filled with its values."""
    if p is None:
        return {"priority": "", "category_id": "", "warning_pct": "80", "escalation_delay_s": "5 mnt"}
    form = {
        "policy_id": str(p.id),
        "priority": str(p.priority),
        "category_id": str(p.category_id or ""),
        "warning_pct": str(p.warning_pct),
        "escalation_delay_s": format_duration(p.escalation_delay_s),
    }
    for f in TARGET_FIELDS:
        value = getattr(p, f)
        form[f] = format_duration(value) if value else ""
        if not value:
            form[f"{f}_off"] = "1"
    return form


async def _policies_page(request, session, *, form=None, errors=None, saved=None, status_code=200):
    categories = (await session.execute(select(Category).order_by(Category.sort_order))).scalars().all()
    form = form or _form_of(None)
    return render(
        request,
        "sla/policies.html",
        {
            "title": "Kebijakan SLA",
            "policies": await list_policies(session),
            "categories": categories,
            "cat_names": {c.id: c.name for c in categories},
            "kinds": CLOCK_KINDS,
            "kind_labels": KIND_LABELS,
            "form": form,
            "editing": bool(form.get("policy_id")),
            "errors": errors or {},
            "saved": saved,
        },
        status_code=status_code,
    )


@router.get("/admin/sla")
async def policies_page(
    request: Request,
    tenant: TenantDep,
    session: TenantSessionDep,
    admin: AdminDep,
    edit: QueryId | None = None,
):
    form = None
    if edit is not None:
        policy = await session.get(SlaPolicy, edit)
        if policy is None:
            raise NotFound("Kebijakan SLA tidak ditemukan")
        form = _form_of(policy)
    return await _policies_page(request, session, form=form)


@router.post("/admin/sla")
async def policies_save(request: Request, tenant: TenantDep, session: TenantSessionDep, admin: AdminDep):
    """Save the row the form was opened for (``policy_id``), or add a new (priority, category) row."""
    raw = {k: v for k, v in (await request.form()).items() if isinstance(v, str)}
    policy, errors = await service.save_policy(
        session, tenant.slug, raw, request.state.principal, origin_of(request)
    )
    if policy is None:
        return await _policies_page(request, session, form=raw, errors=errors, status_code=422)
    if is_htmx(request):
        return await _policies_page(request, session, saved=policy.id)
    return RedirectResponse(f"/t/{tenant.slug}/admin/sla?saved={policy.id}", status_code=303)


@router.post("/admin/sla/{policy_id}/delete")
async def policies_delete(
    request: Request, tenant: TenantDep, session: TenantSessionDep, admin: AdminDep, policy_id: PathId
):
    try:
        await service.delete_policy(
            session, tenant.slug, policy_id, request.state.principal, origin_of(request)
        )
    except NotFoundError as exc:
        raise NotFound(exc.message) from exc
    except DeniedError as exc:
        raise Forbidden(exc.message) from exc
    return RedirectResponse(f"/t/{tenant.slug}/admin/sla", status_code=303)


# --- compliance report (supervisor) -----------------------------------------------------------


def _parse_filters(tenant, params) -> tuple[reports.Period, str, dict]:
    errors: dict[str, str] = {}
    period = reports.default_period(tenant.zoneinfo_name)
    values = {}
    for name in ("from", "to"):
        raw = (params.get(name) or "").strip()
        values[name] = raw
        if raw:
            try:
                values[name] = parse_date(raw, name)
            except OutOfBounds as exc:
                errors[name] = exc.message
    d_from = values["from"] if isinstance(values["from"], date) else period.date_from
    d_to = values["to"] if isinstance(values["to"], date) else period.date_to
    if not errors and d_from > d_to:
        errors["to"] = "Tanggal akhir harus setelah tanggal awal"
    elif not errors and (d_to - d_from).days > 366:
        errors["to"] = "Rentang paling lama 1 tahun"
    kind = params.get("kind") or "acknowledge"
    if kind not in CLOCK_KINDS:
        errors["kind"] = "Ukuran SLA tidak dikenal"
        kind = "acknowledge"
    if errors:
        return period, kind, errors
    return reports.Period(d_from, d_to, tenant.zoneinfo_name), kind, errors


@router.get("/sla")
async def report_page(request: Request, tenant: TenantDep, session: TenantSessionDep, user: SupervisorDep):
    period, kind, errors = _parse_filters(tenant, request.query_params)
    ctx = {
        "title": "Kepatuhan SLA",
        "period": period,
        "kind": kind,
        "errors": errors,
        "kinds": CLOCK_KINDS,
        "kind_short": KIND_SHORT,
        "kind_labels": KIND_LABELS,
        "summary": await reports.summary(session, period),
        "groups": {g: await reports.compliance(session, period, kind, g) for g in reports.GROUPS},
        "group_labels": reports.GROUP_LABELS,
        "open_breaches": await reports.open_breaches(session),
        "query": request.url.query,
    }
    if errors:
        ctx["filters"] = dict(request.query_params)
    status = 422 if errors else 200
    if is_htmx(request):
        return render(request, "sla/_report.html", ctx, status_code=status, headers={"Vary": "HX-Request"})
    return render(request, "sla/report.html", ctx, status_code=status, headers={"Vary": "HX-Request"})


@router.get("/sla/report.csv")
async def report_csv(request: Request, tenant: TenantDep, session: TenantSessionDep, user: SupervisorDep):
    period, kind, errors = _parse_filters(tenant, request.query_params)
    if errors:
        return Response(
            "; ".join(f"{k}: {v}" for k, v in errors.items()), status_code=422, media_type="text/plain"
        )
    groups = {g: await reports.compliance(session, period, kind, g) for g in reports.GROUPS}
    name = f"sla-{tenant.slug}-{kind}-{period.date_from}-{period.date_to}.csv"
    return Response(
        reports.to_csv(period, kind, groups),
        media_type=spreadsheet.MEDIA_TYPE,
        headers=spreadsheet.download_headers(name),
    )


@router.get("/sla/clocks/{clock_id}")
async def clock_detail(
    request: Request, tenant: TenantDep, session: TenantSessionDep, user: TenantUserDep, clock_id: PathId
):
    c = await session.get(SlaClock, clock_id)
    if c is None or (user.role == "opd_staff" and c.opd_id != user.opd_id):
        raise NotFound("Jam SLA tidak ditemukan")
    opd = await session.get(Opd, c.opd_id) if c.opd_id else None
    alerts = await delivery_log(session, dispatch_id=c.dispatch_id) if c.dispatch_id else []
    return render(
        request,
        "sla/clock.html",
        {
            "title": f"SLA #{c.id}",
            "c": c,
            "opd": opd,
            "kind_labels": KIND_LABELS,
            "alerts": alerts,
            "channel_labels": CHANNEL_LABELS,
            "status_labels": MESSAGE_LABELS,
        },
    )
