"""Kominfo's verification desk: the queue, one regency's file, verify / send back / activate / suspend."""

from __future__ import annotations

from fastapi import APIRouter, Depends, Request
from fastapi.responses import FileResponse, RedirectResponse

from app.onboarding import service
from app.onboarding.validation import check_date, clean_text, document_file
from app.security.proxies import origin_of
from app.tenancy.defaults import DEFAULT_OPDS
from app.tenancy.models import Tenant
from app.tenancy.regions import regency
from app.web.csrf import verify_csrf
from app.web.deps import DbDep, KominfoDep, PublicSessionDep, SettingsDep
from app.web.errors import NotFound
from app.web.forms import form_fields
from app.web.params import PathId
from app.web.templating import render

router = APIRouter(prefix="/kominfo", dependencies=[Depends(verify_csrf)], tags=["kominfo (HTML)"])
TABS = {
    "review": "Menunggu verifikasi",
    "sent_back": "Dikembalikan",
    "verified": "Siap diaktifkan",
    "active": "Aktif",
    "suspended": "Ditangguhkan",
}


@router.get("/verifications")
async def verification_queue(
    request: Request, session: PublicSessionDep, user: KominfoDep, tab: str = "review"
):
    if tab not in TABS:
        tab = "review"
    rows = await service.queue(session, tab)
    ranks = {}
    if tab == "active":
        rows.sort(key=lambda r: (r[0].activated_at, r[0].id))
        ranks = {t.id: i + 1 for i, (t, _) in enumerate(rows)}
    return render(
        request,
        "kominfo/queue.html",
        {
            "title": "Verifikasi kabupaten/kota",
            "tab": tab,
            "tabs": TABS,
            "rows": rows,
            "ranks": ranks,
            "counts": await service.queue_counts(session),
        },
    )


async def _detail(
    request, session, tenant_id: PathId, *, errors=None, form=None, status_code=200, flash=None
):
    tenant = await session.get(Tenant, tenant_id)
    if tenant is None:
        raise NotFound("Kabupaten/kota tidak ditemukan")
    await session.refresh(tenant)
    a = await service.application_of(session, tenant.id)
    names = {o["code"]: o["name"] for o in DEFAULT_OPDS}
    opds = (
        [names.get(c, c) for c in (a.opds or {}).get("codes", [])] + list((a.opds or {}).get("custom", []))
        if a and a.opds
        else []
    )
    return render(
        request,
        "kominfo/detail.html",
        {
            "title": f"Verifikasi {tenant.name}",
            "t": tenant,
            "a": a,
            "opds": opds,
            "regency": regency(tenant.region_code),
            "rank": await service.launch_rank(session, tenant),
            "errors": errors or {},
            "form": form or {},
            "flash": flash or request.query_params.get("ok"),
        },
        status_code=status_code,
    )


@router.get("/tenants/{tenant_id}")
async def tenant_detail(request: Request, session: PublicSessionDep, user: KominfoDep, tenant_id: PathId):
    return await _detail(request, session, tenant_id)


@router.get("/tenants/{tenant_id}/document")
async def tenant_document(
    session: PublicSessionDep, settings: SettingsDep, user: KominfoDep, tenant_id: PathId
):
    tenant = await session.get(Tenant, tenant_id)
    a = await service.application_of(session, tenant_id) if tenant else None
    path = document_file(settings.upload_dir, a.document_path if a else None)
    if path is None or tenant is None:
        raise NotFound("Dokumen tidak ditemukan")
    return FileResponse(
        path,
        media_type="application/pdf",
        filename=f"dasar-hukum-{tenant.slug}.pdf",
        headers={"X-Content-Type-Options": "nosniff", "Cache-Control": "private, no-store"},
    )


async def _act(request, session, tenant_id: PathId, action, ok: str):
    try:
        await action()
    except service.StateError as exc:
        return await _detail(request, session, tenant_id, errors={"action": str(exc)}, status_code=409)
    return RedirectResponse(f"/kominfo/tenants/{tenant_id}?ok={ok}", status_code=303)


@router.post("/tenants/{tenant_id}/verify")
async def tenant_verify(
    request: Request, session: PublicSessionDep, db: DbDep, user: KominfoDep, tenant_id: PathId
):
    return await _act(
        request,
        session,
        tenant_id,
        lambda: service.verify(
            db, tenant_id, request.state.principal, origin_of(request), request.app.state.registry
        ),
        "verified",
    )


@router.post("/tenants/{tenant_id}/send-back")
async def tenant_send_back(
    request: Request, session: PublicSessionDep, db: DbDep, user: KominfoDep, tenant_id: PathId
):
    form, _ = await form_fields(request)
    comment = (form.get("comment") or "").strip()
    if len(comment) < 5 or len(comment) > 4000:
        return await _detail(
            request,
            session,
            tenant_id,
            status_code=422,
            form={"comment": comment},
            errors={
                "comment": "Tulis catatan perbaikan (5–4000 karakter) agar kabupaten/kota tahu apa yang harus diperbaiki"
            },
        )
    return await _act(
        request,
        session,
        tenant_id,
        lambda: service.send_back(
            db, tenant_id, comment, request.state.principal, origin_of(request), request.app.state.registry
        ),
        "sent_back",
    )


@router.post("/tenants/{tenant_id}/activate")
async def tenant_activate(
    request: Request, session: PublicSessionDep, db: DbDep, user: KominfoDep, tenant_id: PathId
):
    form, _ = await form_fields(request)
    raw = (form.get("launch_date") or "").strip()
    errors: dict = {}
    launch = check_date(errors, "launch_date", raw, "Tanggal peluncuran") if raw else None
    if errors:
        return await _detail(
            request, session, tenant_id, status_code=422, form={"launch_date": raw}, errors=errors
        )
    return await _act(
        request,
        session,
        tenant_id,
        lambda: service.activate(
            db, tenant_id, launch, request.state.principal, origin_of(request), request.app.state.registry
        ),
        "activated",
    )


@router.post("/tenants/{tenant_id}/suspend")
async def tenant_suspend(
    request: Request, session: PublicSessionDep, db: DbDep, user: KominfoDep, tenant_id: PathId
):
    form, _ = await form_fields(request)
    reason = clean_text(form.get("reason"), 1000)
    if len(reason) < 5 or len(reason) > 1000:
        return await _detail(
            request,
            session,
            tenant_id,
            status_code=422,
            form={"reason": reason},
            errors={"reason": "Tulis alasan penangguhan (5–1000 karakter)"},
        )
    return await _act(
        request,
        session,
        tenant_id,
        lambda: service.suspend(
            db, tenant_id, reason, request.state.principal, origin_of(request), request.app.state.registry
        ),
        "suspended",
    )


@router.post("/tenants/{tenant_id}/reinstate")
async def tenant_reinstate(
    request: Request, session: PublicSessionDep, db: DbDep, user: KominfoDep, tenant_id: PathId
):
    return await _act(
        request,
        session,
        tenant_id,
        lambda: service.reinstate(
            db, tenant_id, request.state.principal, origin_of(request), request.app.state.registry
        ),
        "reinstated",
    )


@router.get("/", include_in_schema=False)
async def kominfo_home(user: KominfoDep):
    return RedirectResponse("/kominfo/verifications", status_code=303)
