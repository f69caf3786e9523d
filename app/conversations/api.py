"""Inbound text-to-112 webhooks. Nothing is stored unless the request is authentic and well formed.

SMS integrator (signed like the telephony webhook, X-Siaga112-Timestamp / X-Siaga112-Signature):
  POST /api/v1/t/<slug>/text112/sms/inbound   {"message_id", "from", "to", "text", "received_at"}
  POST /api/v1/t/<slug>/text112/sms/status    {"message_id", "status": "delivered"|"failed", "error"?}
WhatsApp Business Cloud API (Meta's webhook contract):
  GET  /api/v1/t/<slug>/text112/whatsapp/webhook  hub.mode=subscribe, hub.verify_token, hub.challenge
  POST /api/v1/t/<slug>/text112/whatsapp/webhook  X-Hub-Signature-256: sha256=HMAC(app secret, raw body)
"""

from __future__ import annotations

import hashlib
import hmac
import logging
import os
from datetime import UTC, datetime
from typing import Annotated, Literal

from fastapi import APIRouter, HTTPException, Query, Request
from fastapi.responses import PlainTextResponse
from pydantic import AwareDatetime, BaseModel, ConfigDict, Field, StringConstraints, ValidationError

from app.conversations import service
from app.telephony.api import _body, _integrator_ctx, _parse, _verify_signature
from app.telephony.schemas import Called, Ident, Phone
from app.web.deps import TenantDep, TenantSessionDep

log = logging.getLogger(__name__)
router = APIRouter(prefix="/api/v1/t/{slug}/text112", tags=["text-to-112"])
WA_SIGNATURE = "X-Hub-Signature-256"
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
    body = await _body(request)
    await _verify_signature(request, session, tenant.slug, body)
    sms: SmsIn = _parse(SmsIn, body)
    msg, call = await service.receive(
        _integrator_ctx(request, session, tenant),
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
    body = await _body(request)
    await _verify_signature(request, session, tenant.slug, body)
    st: SmsStatusIn = _parse(SmsStatusIn, body)
    msg = await service.apply_status(
        _integrator_ctx(request, session, tenant), st.message_id, st.status, st.error
    )
    return {"known": msg is not None}


# --- WhatsApp Business Cloud API -------------------------------------------------------------------


@router.get("/whatsapp/webhook", summary="WhatsApp webhook verification (Meta's challenge)")
async def whatsapp_verify(
    tenant: TenantDep,
    mode: str = Query("", alias="hub.mode"),
    token: str = Query("", alias="hub.verify_token"),
    challenge: str = Query("", alias="hub.challenge", max_length=200),
):
    expected = os.environ.get("WHATSAPP_VERIFY_TOKEN", "")
    if not expected:
        raise HTTPException(403, "WhatsApp belum dikonfigurasi (WHATSAPP_VERIFY_TOKEN)")
    if mode != "subscribe" or not hmac.compare_digest(token, expected) or not challenge:
        raise HTTPException(403, "Verifikasi webhook WhatsApp gagal (hub.mode/hub.verify_token)")
    return PlainTextResponse(challenge)


class _Loose(BaseModel):
    """Meta adds fields over time: unknown ones are ignored, the ones we use are checked."""

    model_config = ConfigDict(extra="ignore")


class WaText(_Loose):
    body: Annotated[str, StringConstraints(min_length=1, max_length=4096)]


class WaLocation(_Loose):
    latitude: float = Field(ge=-90, le=90)
    longitude: float = Field(ge=-180, le=180)
    name: str | None = None
    address: str | None = None


class WaMessage(_Loose):
    sender: Annotated[str, StringConstraints(pattern=r"^[0-9]{6,15}$")] = Field(alias="from")
    id: Annotated[str, StringConstraints(min_length=1, max_length=190)]
    timestamp: Annotated[str, StringConstraints(pattern=r"^[0-9]{1,12}$")]
    type: str
    text: WaText | None = None
    location: WaLocation | None = None


class WaStatus(_Loose):
    id: Annotated[str, StringConstraints(min_length=1, max_length=190)]
    status: Literal["sent", "delivered", "read", "failed", "deleted"]
    errors: list[dict] | None = None


class WaValue(_Loose):
    messaging_product: Literal["whatsapp"]
    messages: list[WaMessage] = []
    statuses: list[WaStatus] = []


class WaChange(_Loose):
    field: str
    value: WaValue


class WaEntry(_Loose):
    id: str
    changes: list[WaChange]


class WaWebhook(_Loose):
    object: Literal["whatsapp_business_account"]
    entry: list[WaEntry]


def _wa_body(m: WaMessage) -> str:
    if m.type == "text" and m.text is not None:
        return m.text.body
    if m.type == "location" and m.location is not None:
        where = (
            f" ({m.location.name or m.location.address})" if (m.location.name or m.location.address) else ""
        )
        return f"[lokasi dibagikan] {m.location.latitude:.6f}, {m.location.longitude:.6f}{where}"
    return f"[{m.type}: jenis pesan ini belum dapat ditampilkan — minta penelepon mengetik teks]"


@router.post("/whatsapp/webhook", summary="WhatsApp Cloud API webhook (X-Hub-Signature-256)")
async def whatsapp_webhook(request: Request, tenant: TenantDep, session: TenantSessionDep):
    secret = os.environ.get("WHATSAPP_APP_SECRET", "")
    if not secret:
        raise HTTPException(403, "WhatsApp belum dikonfigurasi (WHATSAPP_APP_SECRET)")
    body = await _body(request)
    sent = request.headers.get(WA_SIGNATURE, "")
    expected = "sha256=" + hmac.new(secret.encode(), body, hashlib.sha256).hexdigest()
    if not sent or not hmac.compare_digest(sent, expected):
        log.warning("whatsapp webhook refused for %s: bad or missing %s", tenant.slug, WA_SIGNATURE)
        raise HTTPException(401, f"Header {WA_SIGNATURE} tidak ada atau tidak cocok")
    try:
        hook = WaWebhook.model_validate_json(body)
    except ValidationError as exc:
        errors = [{"field": ".".join(map(str, e["loc"])), "message": e["msg"]} for e in exc.errors()[:10]]
        raise HTTPException(
            422, {"message": "Payload webhook WhatsApp tidak valid", "errors": errors}
        ) from None
    ctx = _integrator_ctx(request, session, tenant)
    received = statuses = 0
    for entry in hook.entry:
        for change in entry.changes:
            if change.field != "messages":
                continue
            for m in change.value.messages:
                at = datetime.fromtimestamp(int(m.timestamp), UTC)
                msg, _ = await service.receive(ctx, "whatsapp", "+" + m.sender, _wa_body(m), m.id, at)
                received += msg is not None
            for st in change.value.statuses:
                if st.status == "deleted":
                    continue
                error = (st.errors or [{}])[0].get("title") if st.errors else None
                statuses += (await service.apply_status(ctx, st.id, st.status, error)) is not None
    return {"received": received, "statuses": statuses}
