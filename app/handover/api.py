"""JSON API of the exchange format: the schema, export of an incident, receipt from an external
system (token scope ``handover:receive``), and a hand-over started by an integration."""

from __future__ import annotations

from typing import Annotated, Any

from fastapi import APIRouter, Body, Depends, Request
from fastapi.exceptions import RequestValidationError
from fastapi.responses import JSONResponse
from pydantic import BaseModel, Field

from app.calls.http import make_ctx, service_errors
from app.core.principal import Principal
from app.handover import document, service
from app.web.csrf import verify_csrf
from app.web.deps import TenantDep, TenantSessionDep, api_tenant_access
from app.web.params import PathId

router = APIRouter(dependencies=[Depends(verify_csrf)], tags=["hand-over"])

ROLES = ("operator", "supervisor", "admin")
Read = Annotated[Principal, Depends(api_tenant_access(*ROLES, scope="calls:read"))]
Write = Annotated[Principal, Depends(api_tenant_access(*ROLES, scope="calls:write"))]
Receive = Annotated[Principal, Depends(api_tenant_access(*ROLES, scope="handover:receive"))]


class HandoverStart(BaseModel):
    receiver: str = Field(..., max_length=47, description="slug of the receiving regency")
    reason: str = Field(..., max_length=1000)


@router.get(
    "/api/v1/handover/schema/incident-transfer-v1.json", summary="The exchange format (JSON Schema 2020-12)"
)
async def schema() -> dict[str, Any]:
    return document.schema()


@router.get(
    "/api/v1/t/{slug}/incidents/{incident_id}/transfer-document",
    summary="Export an incident as an incident-transfer document (v1)",
)
async def export(
    incident_id: PathId, tenant: TenantDep, session: TenantSessionDep, who: Read
) -> dict[str, Any]:
    with service_errors():
        return await service.export(session, tenant, incident_id)


def _invalid(exc: document.InvalidDocument) -> RequestValidationError:
    return RequestValidationError(
        [{"loc": ("body", path), "msg": message, "type": "schema"} for path, message in exc.errors]
    )


@router.post(
    "/api/v1/t/{slug}/handover/inbox",
    status_code=201,
    summary="Receive an incident-transfer document from an external system (ringing in the console)",
)
async def receive(
    request: Request, session: TenantSessionDep, who: Receive, doc: Annotated[Any, Body()] = None
):
    try:
        row, created = await service.receive_external(make_ctx(request, session, who), doc)
    except document.InvalidDocument as exc:
        raise _invalid(exc) from exc
    return JSONResponse(
        {"id": row.id, "transferId": str(row.transfer_id), "status": row.status, "created": created},
        status_code=201 if created else 200,
    )


@router.post(
    "/api/v1/t/{slug}/incidents/{incident_id}/handover", status_code=202, summary="Hand an incident over"
)
async def start(
    incident_id: PathId, data: HandoverStart, request: Request, session: TenantSessionDep, who: Write
):
    with service_errors():
        row = await service.start(make_ctx(request, session, who), incident_id, data.receiver, data.reason)
    return {"transferId": str(row.transfer_id), "status": row.status, "receiver": row.receiver_slug}


@router.post("/api/v1/t/{slug}/calls/{call_id}/handover", status_code=202, summary="Hand a call over")
async def start_call(
    call_id: PathId, data: HandoverStart, request: Request, session: TenantSessionDep, who: Write
):
    with service_errors():
        row = await service.start_call(make_ctx(request, session, who), call_id, data.receiver, data.reason)
    return {"transferId": str(row.transfer_id), "status": row.status, "receiver": row.receiver_slug}
