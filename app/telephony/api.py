"""Integrator endpoints (HMAC-signed call events, AML positions) and the JSON claim of a ringing call.

POST /api/v1/t/<slug>/telephony/events          signed call event (ringing|answered|transferred|ended)
POST /api/v1/t/<slug>/telephony/aml             AML text (signed, or bearer token with telephony:webhook)
POST /api/v1/t/<slug>/telephony/calls/<id>/claim  an operator answers ("Angkat"); 409 if someone else did
"""

from __future__ import annotations

import logging
from typing import Annotated

from fastapi import APIRouter, Depends, HTTPException, Request
from fastapi.exceptions import RequestValidationError
from fastapi.responses import JSONResponse
from sqlalchemy.ext.asyncio import AsyncSession

from app.auth.tokens import resolve_tenant_token
from app.calls.http import make_ctx, service_errors
from app.core.principal import Principal
from app.telephony import service
from app.telephony.aml import AmlError
from app.telephony.http import integrator_ctx, parse, read_body, verify_signature
from app.telephony.schemas import AmlIn, CallEventIn
from app.telephony.signing import from_database
from app.web.csrf import verify_csrf
from app.web.deps import TenantDep, TenantSessionDep, api_tenant_access
from app.web.errors import Conflict, Forbidden
from app.web.params import PathId

log = logging.getLogger(__name__)
router = APIRouter(prefix="/api/v1/t/{slug}/telephony", tags=["telephony"])
WEBHOOK_SCOPE = "telephony:webhook"
Operator = Annotated[Principal, Depends(api_tenant_access("operator", "supervisor", "admin"))]


@router.post("/events", summary="Integrator call event (HMAC-SHA256 signed)")
async def call_event(request: Request, tenant: TenantDep):
    # No session of its own: the event is written by the webhook queue with the other events of
    # this regency that arrive meanwhile (app.telephony.intake), answered once it is committed.
    body = await read_body(request)
    await verify_signature(request, from_database(request.app.state.db, tenant.slug), tenant.slug, body)
    ev: CallEventIn = parse(CallEventIn, body)
    try:
        result = await request.app.state.telephony.submit(tenant, ev)
    except service.Replay as exc:
        raise Conflict(exc.message) from None
    call = result.call
    # A JSONResponse of plain values: FastAPI's encoder walks a returned dict again (≈ 20 µs).
    return JSONResponse(
        {
            "call_id": call.id,
            "external_id": call.external_id,
            "state": call.telephony_state,
            "created": result.created,
            "silent_suspected": call.silent_suspected,
        }
    )


async def _aml_auth(request: Request, session: AsyncSession, slug: str, body: bytes) -> None:
    auth = request.headers.get("authorization", "")
    if auth.lower().startswith("bearer "):
        principal = await resolve_tenant_token(request, slug, session, auth[7:].strip())
        if principal is None:
            raise HTTPException(401, "Token API tidak sah atau kedaluwarsa")
        if WEBHOOK_SCOPE not in principal.scopes:
            raise Forbidden(f"Token tidak memiliki izin {WEBHOOK_SCOPE}")
        return
    await verify_signature(request, session, slug, body)


@router.post("/aml", status_code=201, summary="AML position (ETSI TS 103 625 text form)")
async def aml_delivery(request: Request, tenant: TenantDep, session: TenantSessionDep):
    body = await read_body(request)
    await _aml_auth(request, session, tenant.slug, body)
    data: AmlIn = parse(AmlIn, body)
    try:
        loc, call = await service.ingest_aml(
            integrator_ctx(request, session, tenant), data.caller_number, data.message
        )
    except AmlError as exc:
        log.warning(
            "AML rejected for %s from %s: %s | %r", tenant.slug, data.caller_number, exc, data.message[:200]
        )
        raise RequestValidationError(
            [
                {
                    "loc": ("body", "message", exc.field),
                    "type": "aml_invalid",
                    "msg": f"Pesan AML tidak valid — {exc.field}: {exc.message}",
                }
            ]
        ) from None
    return {
        "id": loc.id,
        "call_id": call.id if call else None,
        "attached": call is not None,
        "lat": loc.lat,
        "lon": loc.lon,
        "radius_m": loc.radius_m,
        "method": loc.method,
        "positioned_at": loc.positioned_at.isoformat(),
    }


@router.post(
    "/calls/{call_id}/claim",
    dependencies=[Depends(verify_csrf)],
    summary="Answer (claim) a ringing call; 409 if another operator already did",
)
async def claim_call(call_id: PathId, request: Request, session: TenantSessionDep, who: Operator):
    with service_errors():
        call = await service.claim(make_ctx(request, session, who), call_id)
    return {
        "call_id": call.id,
        "operator_id": call.operator_id,
        "state": call.telephony_state,
        "answered_at": call.answered_at.isoformat() if call.answered_at else None,
    }
