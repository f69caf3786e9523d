"""Console pieces of the hand-over (htmx partials, included from the console by templates/handover/)."""

from __future__ import annotations

import json

from fastapi import APIRouter, Depends, Request

from app.calls.http import make_ctx
from app.calls.models import Incident
from app.calls.service import get_call, get_incident
from app.core.errors import InvalidInput, NotFoundError, ServiceError
from app.handover import service
from app.web.csrf import verify_csrf
from app.web.deps import OperatorDep, TenantDep, TenantSessionDep
from app.web.errors import NotFound
from app.web.params import PathId
from app.web.templating import render

router = APIRouter(prefix="/t/{slug}", dependencies=[Depends(verify_csrf)], tags=["hand-over (HTML)"])

STATUS_LABELS = {
    "pending": "menunggu terkirim",
    "delivered": "menunggu jawaban",
    "accepted": "diterima",
    "declined": "ditolak",
    "ringing": "menunggu jawaban",
}


def _toast(message: str) -> dict:
    return {"HX-Trigger": json.dumps({"showToast": message})}


async def _panel(request, session, *, errors=None, status_code=200, headers=None):
    return render(
        request,
        "handover/_panel.html",
        {
            "incoming": await service.ringing(session),
            "outgoing": await service.outgoing(session, limit=8),
            "labels": STATUS_LABELS,
            "errors": errors or {},
        },
        status_code=status_code,
        headers=headers,
    )


@router.get("/handover/panel", include_in_schema=False)
async def panel(request: Request, tenant: TenantDep, session: TenantSessionDep, user: OperatorDep):
    return await _panel(request, session)


async def _form(request, session, subject, *, form=None, errors=None, status_code=200):
    """The hand-over form for an incident or a call (the template tells them apart)."""
    key = "incident" if isinstance(subject, Incident) else "call"
    return render(
        request,
        "handover/_form.html",
        {
            key: subject,
            "regencies": await service.candidates(session, request.state.tenant.slug),
            "form": form or {},
            "errors": errors or {},
        },
        status_code=status_code,
    )


@router.get("/incidents/{incident_id}/handover", include_in_schema=False)
async def handover_form(
    incident_id: PathId, request: Request, tenant: TenantDep, session: TenantSessionDep, user: OperatorDep
):
    try:
        incident = await get_incident(session, incident_id)
    except NotFoundError as exc:
        raise NotFound(exc.message) from exc
    return await _form(request, session, incident)


@router.post("/incidents/{incident_id}/handover", include_in_schema=False)
async def handover_start(
    incident_id: PathId, request: Request, tenant: TenantDep, session: TenantSessionDep, user: OperatorDep
):
    form = await request.form()
    receiver, reason = str(form.get("receiver", "")), str(form.get("reason", ""))
    try:
        incident = await get_incident(session, incident_id)
    except NotFoundError as exc:
        raise NotFound(exc.message) from exc
    try:
        row = await service.start(
            make_ctx(request, session, request.state.principal), incident_id, receiver, reason
        )
    except ServiceError as exc:
        await session.rollback()  # expires the incident: read it again for the form
        errors = {exc.field if isinstance(exc, InvalidInput) else "__all__": exc.message}
        incident = await get_incident(session, incident_id)
        return await _form(request, session, incident, form=dict(form), errors=errors, status_code=422)
    return render(
        request,
        "handover/_sent.html",
        {"row": row},
        headers=_toast(f"Insiden #{incident_id} diserahkan ke {row.receiver_name} — menunggu jawaban"),
    )


@router.get("/calls/{call_id}/handover", include_in_schema=False)
async def call_handover_form(
    call_id: PathId, request: Request, tenant: TenantDep, session: TenantSessionDep, user: OperatorDep
):
    try:
        call = await get_call(session, call_id)
    except NotFoundError as exc:
        raise NotFound(exc.message) from exc
    return await _form(request, session, call)


@router.post("/calls/{call_id}/handover", include_in_schema=False)
async def call_handover_start(
    call_id: PathId, request: Request, tenant: TenantDep, session: TenantSessionDep, user: OperatorDep
):
    form = await request.form()
    try:
        call = await get_call(session, call_id)
        row = await service.start_call(
            make_ctx(request, session, request.state.principal),
            call_id,
            str(form.get("receiver", "")),
            str(form.get("reason", "")),
        )
    except NotFoundError as exc:
        raise NotFound(exc.message) from exc
    except ServiceError as exc:
        await session.rollback()
        errors = {exc.field if isinstance(exc, InvalidInput) else "__all__": exc.message}
        call = await get_call(session, call_id)
        return await _form(request, session, call, form=dict(form), errors=errors, status_code=422)
    return render(
        request,
        "handover/_sent.html",
        {"row": row},
        headers=_toast(f"Panggilan #{call_id} diserahkan ke {row.receiver_name} — menunggu jawaban"),
    )


@router.post("/handover/{inbox_id}/accept", include_in_schema=False)
async def accept(
    inbox_id: PathId, request: Request, tenant: TenantDep, session: TenantSessionDep, user: OperatorDep
):
    try:
        incident = await service.accept(make_ctx(request, session, request.state.principal), inbox_id)
    except NotFoundError as exc:
        raise NotFound(exc.message) from exc
    except ServiceError as exc:
        await session.rollback()
        return await _panel(request, session, errors={inbox_id: exc.message}, status_code=409)
    return await _panel(
        request, session, headers=_toast(f"Serah terima diterima: insiden #{incident.id} dibuka")
    )


@router.post("/handover/{inbox_id}/decline", include_in_schema=False)
async def decline(
    inbox_id: PathId, request: Request, tenant: TenantDep, session: TenantSessionDep, user: OperatorDep
):
    form = await request.form()
    try:
        await service.decline(
            make_ctx(request, session, request.state.principal), inbox_id, str(form.get("reason", ""))
        )
    except NotFoundError as exc:
        raise NotFound(exc.message) from exc
    except ServiceError as exc:
        await session.rollback()
        return await _panel(request, session, errors={inbox_id: exc.message}, status_code=422)
    return await _panel(request, session, headers=_toast("Serah terima ditolak; pengirim diberi tahu"))
