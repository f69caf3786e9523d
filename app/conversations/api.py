"""Inbound text-to-112 webhooks. Nothing is stored unless the request is authentic and well formed.

SMS integrator (signed like the telephony webhook, X-Siaga112-Timestamp / X-Siaga112-Signature):
  POST /api/v1/t/<slug>/text112/sms/inbound   {"message_id", "from", "to", "text", "received_at"}
  POST /api/v1/t/<slug>/text112/sms/status    {"message_id", "status": "delivered"|"failed", "error"?}
WhatsApp messages arrive on the channels' one webhook (``/api/v1/t/<slug>/channels/whatsapp/
webhook``, verified with the regency's app secret) and reach ``app/conversations/handlers.py``.
"""

from __future__ import annotations

import logging
from typing import Annotated, Literal

from fastapi import APIRouter, Request
from pydantic import AwareDatetime, BaseModel, ConfigDict, Field, StringConstraints

from app.conversations import service
from app.telephony.http import integrator_ctx, parse, read_body, verify_signature
from app.telephony.schemas import Called, Ident, Phone
from app.web.deps import TenantDep, TenantSessionDep

log = logging.getLogger(__name__)
router = APIRouter(prefix="/api/v1/t/{slug}/text112", tags=["text-to-112"])
Text = Annotated[str, StringConstraints(strip_whitespace=True, min_length=1, max_length=1600)]


class SmsIn(BaseModel):
    model_config = ConfigDict(extra="forbid", populate_by_name=True)

    message_id: Ident
    sender: Phone = Field(alias="from")
    to: Called
    text: Text
    received_at: AwareDatetime


class SmsStatusIn(BaseModel):
    model_config = ConfigDict(extra="forbid")

    message_id: Ident
    status: Literal["delivered", "failed"]
    error: Annotated[str, StringConstraints(max_length=300)] | None = None


@router.post("/sms/inbound", summary="Inbound SMS to 112 (integrator, HMAC signed)")
async def sms_inbound(request: Request, tenant: TenantDep, session: TenantSessionDep):
    body = await read_body(request)
    await verify_signature(request, session, tenant.slug, body)
    sms: SmsIn = parse(SmsIn, body)
    msg, call = await service.receive(
        integrator_ctx(request, session, tenant),
        "sms",
        sms.sender,
        sms.text,
        f"sms:{sms.message_id}",
        sms.received_at,
    )
    if msg is None:
        return {"duplicate": True}
    return {"duplicate": False, "message_id": msg.id, "call_id": call.id if call else None}


@router.post("/sms/status", summary="SMS delivery report (integrator, HMAC signed)")
async def sms_status(request: Request, tenant: TenantDep, session: TenantSessionDep):
    body = await read_body(request)
    await verify_signature(request, session, tenant.slug, body)
    st: SmsStatusIn = parse(SmsStatusIn, body)
    msg = await service.apply_status(
        integrator_ctx(request, session, tenant), st.message_id, st.status, st.error
    )
    return {"known": msg is not None}
