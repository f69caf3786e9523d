"""The operator's side of a text conversation: the chat page (live over the console's SSE
stream), replies, the deaf/speech-impaired mark, ending it, and the per-channel answer report.

GET  /t/<slug>/conversations/<id>             chat page
GET  /t/<slug>/conversations/<id>/messages    fragment (htmx, refreshed on "chat" notices)
POST /t/<slug>/conversations/<id>/messages    reply (body)
POST /t/<slug>/conversations/<id>/deaf        value=1|0
POST /t/<slug>/conversations/<id>/end
GET  /t/<slug>/reports/channels               supervisors/admins: answer figures per channel
"""

from __future__ import annotations

import json
from datetime import UTC, datetime, timedelta

from fastapi import APIRouter, Depends, Form, Request

from app.calls.http import make_ctx, service_errors
from app.conversations import service
from app.core.errors import ServiceError
from app.web.csrf import verify_csrf
from app.web.deps import OperatorDep, SupervisorDep, TenantDep, TenantSessionDep
from app.web.templating import render

router = APIRouter(prefix="/t/{slug}", dependencies=[Depends(verify_csrf)], tags=["text-to-112 (HTML)"])


def _ctx(request: Request, session):
    return make_ctx(request, session, request.state.principal)


async def _thread(
    request: Request, session, call_id: int, status_code: int = 200, error: str | None = None, headers=None
):
    with service_errors():
        call = await service.get_conversation(session, call_id)
    return render(
        request,
        "conversations/_thread.html",
        {"call": call, "messages": await service.messages(session, call.id), "error": error},
        status_code=status_code,
        headers=headers,
    )


@router.get("/conversations/{call_id}", include_in_schema=False)
async def conversation_page(
    call_id: int, request: Request, tenant: TenantDep, session: TenantSessionDep, user: OperatorDep
):
    with service_errors():
        call = await service.get_conversation(session, call_id)
    return render(
        request,
        "conversations/page.html",
        {"call": call, "messages": await service.messages(session, call.id), "error": None},
    )


@router.get("/conversations/{call_id}/messages", include_in_schema=False)
async def thread(
    call_id: int, request: Request, tenant: TenantDep, session: TenantSessionDep, user: OperatorDep
):
    return await _thread(request, session, call_id)


@router.post("/conversations/{call_id}/messages", include_in_schema=False)
async def reply(
    call_id: int,
    request: Request,
    tenant: TenantDep,
    session: TenantSessionDep,
    user: OperatorDep,
    body: str = Form(""),
):
    try:
        await service.send_reply(_ctx(request, session), call_id, body)
    except ServiceError as exc:
        await session.rollback()
        return await _thread(request, session, call_id, status_code=exc.status, error=exc.message)
    return await _thread(request, session, call_id)


@router.post("/conversations/{call_id}/deaf", include_in_schema=False)
async def deaf(
    call_id: int,
    request: Request,
    tenant: TenantDep,
    session: TenantSessionDep,
    user: OperatorDep,
    value: str = Form("1"),
):
    with service_errors():
        call = await service.set_deaf(_ctx(request, session), call_id, value == "1")
    message = (
        "Ditandai: tuli / tuna wicara — balas hanya dengan teks."
        if call.deaf_speech_impaired
        else "Tanda tuli / tuna wicara dihapus."
    )
    return await _thread(
        request, session, call_id, headers={"HX-Trigger": json.dumps({"showToast": message})}
    )


@router.post("/conversations/{call_id}/end", include_in_schema=False)
async def end(
    call_id: int, request: Request, tenant: TenantDep, session: TenantSessionDep, user: OperatorDep
):
    try:
        await service.end(_ctx(request, session), call_id)
    except ServiceError as exc:
        await session.rollback()
        return await _thread(request, session, call_id, status_code=exc.status, error=exc.message)
    return await _thread(request, session, call_id)


@router.get("/reports/channels", include_in_schema=False)
async def channel_report(
    request: Request, tenant: TenantDep, session: TenantSessionDep, user: SupervisorDep, days: int = 30
):
    days = max(1, min(days, 366))
    until = datetime.now(UTC)
    rows = await service.channel_report(session, until - timedelta(days=days), until)
    return render(request, "conversations/report.html", {"rows": rows, "days": days})
