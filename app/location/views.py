"""The location-share link: the operator sends it (htmx), the caller opens a tiny public page
(no login, no framework JS) that posts the browser's position back.

POST /t/<slug>/calls/<id>/location-link   operator: create + send over sms|whatsapp (toast)
GET  /t/<slug>/lokasi/<token>             caller: the page (410 if used/expired, 404 unknown)
POST /t/<slug>/lokasi/<token>             caller's browser: {lat, lon, accuracy, timestamp}
"""

from __future__ import annotations

from datetime import UTC, datetime

from fastapi import APIRouter, Depends, Form, Request
from fastapi.responses import JSONResponse
from pydantic import BaseModel, ConfigDict, Field, ValidationError

from app.calls.http import make_ctx, toast_error, toast_json
from app.calls.service import Ctx
from app.core.errors import ServiceError
from app.core.principal import Principal
from app.location import service
from app.security.proxies import origin_of
from app.web.csrf import verify_csrf
from app.web.deps import OperatorDep, TenantDep, TenantSessionDep
from app.web.templating import render

router = APIRouter(prefix="/t/{slug}", tags=["location (HTML)"])
MAX_BODY = 2048
CALLER = Principal(kind="token", user_id=None, role="citizen", name="Penelepon (tautan lokasi)")


@router.post("/calls/{call_id}/location-link", include_in_schema=False, dependencies=[Depends(verify_csrf)])
async def send_link(
    call_id: int,
    request: Request,
    tenant: TenantDep,
    session: TenantSessionDep,
    user: OperatorDep,
    channel: str = Form("sms"),
):
    ctx = make_ctx(request, session, request.state.principal)
    try:
        sent = await service.send_link(ctx, call_id, channel, str(request.base_url))
    except ServiceError as exc:
        await session.rollback()
        return toast_error(exc)
    label = "WhatsApp" if sent.link.channel == "whatsapp" else "SMS"
    if sent.link.send_state == "sent":
        message = f"Tautan lokasi terkirim lewat {label} ke {sent.link.to_number} (berlaku 30 menit)."
    else:
        message = f"Tautan lokasi GAGAL dikirim lewat {label}: {sent.link.send_error}"
    return toast_json(
        {"link_id": sent.link.id, "send_state": sent.link.send_state, "error": sent.link.send_error},
        201 if sent.link.send_state == "sent" else 502,
        message,
    )


@router.get("/lokasi/{token}", include_in_schema=False)
async def link_page(token: str, request: Request, tenant: TenantDep, session: TenantSessionDep):
    link, problem = await service.link_state(session, token)
    status = 200 if problem is None else (404 if link is None else 410)
    return render(
        request,
        "location/share.html",
        {"problem": problem, "post_url": f"/t/{tenant.slug}/lokasi/{token}", "tenant": tenant},
        status_code=status,
        headers={"cache-control": "no-store", "referrer-policy": "no-referrer"},
    )


class PositionIn(BaseModel):
    model_config = ConfigDict(extra="forbid")

    lat: float = Field(ge=-90, le=90)
    lon: float = Field(ge=-180, le=180)
    accuracy: float = Field(gt=0, le=service.MAX_ACCURACY_M)
    timestamp: int | None = Field(None, ge=0, le=4_102_444_800_000, description="ms since the epoch")


@router.post("/lokasi/{token}", include_in_schema=False)
async def link_position(token: str, request: Request, tenant: TenantDep, session: TenantSessionDep):
    link, problem = await service.link_state(session, token)
    if problem is not None:  # before parsing: an unknown link learns nothing about the payload
        return JSONResponse({"detail": problem}, status_code=404 if link is None else 410)
    body = await request.body()
    if len(body) > MAX_BODY:
        return JSONResponse({"detail": "Data terlalu besar"}, status_code=413)
    try:
        pos = PositionIn.model_validate_json(body)
    except ValidationError as exc:
        errors = [{"field": ".".join(map(str, e["loc"])), "message": e["msg"]} for e in exc.errors()]
        return JSONResponse({"detail": "Posisi tidak valid", "errors": errors}, status_code=422)
    at = datetime.fromtimestamp(pos.timestamp / 1000, UTC) if pos.timestamp else datetime.now(UTC)
    ctx = Ctx(
        session=session,
        tenant=tenant,
        actor=CALLER,
        redis=request.app.state.redis,
        origin=origin_of(request),
    )
    try:
        fix = await service.submit_fix(ctx, token, pos.lat, pos.lon, pos.accuracy, at)
    except ServiceError as exc:
        await session.rollback()
        return JSONResponse({"detail": exc.message}, status_code=exc.status)
    return JSONResponse(
        {"ok": True, "flagged": bool(fix.flags), "message": "Lokasi terkirim ke petugas 112. Tetap tenang."},
        status_code=201,
    )
