"""Provider webhooks (no session, no CSRF: each is authenticated by its provider's signature).

WhatsApp: GET = Meta's subscription handshake (hub.verify_token), POST = statuses and replies,
signed with X-Hub-Signature-256. Telegram: POST updates with X-Telegram-Bot-Api-Secret-Token.
A forged body is 401, a malformed one 400, a replayed one (every event id seen before) 409; in
every refused case nothing is stored. SMS: POST delivery reports (DLR) with the shared secret;
a report for an id we never sent is 404 (docs/channels.md).
"""

from __future__ import annotations

from fastapi import APIRouter, Request
from fastapi.responses import JSONResponse, PlainTextResponse

from app.channels import ack, inbound, service
from app.channels.adapters.sms import SmsGatewayAdapter
from app.channels.adapters.telegram import TelegramAdapter
from app.channels.adapters.whatsapp import WhatsAppAdapter
from app.channels.base import Inbound, WebhookRejected
from app.channels.models import ChannelMessage
from app.db import uow
from app.web.deps import TenantDep, TenantSessionDep

router = APIRouter(prefix="/api/v1/t/{slug}/channels", tags=["channels (webhooks)"])


def _refused(exc: WebhookRejected) -> JSONResponse:
    return JSONResponse({"detail": exc.reason}, status_code=exc.status_code)


@router.get("/whatsapp/webhook")
async def whatsapp_verify(request: Request, tenant: TenantDep, session: TenantSessionDep):
    config, _ = await service.load_config(session, tenant.slug, "whatsapp")
    q = request.query_params
    token = config.get("verify_token")
    if q.get("hub.mode") == "subscribe" and token and q.get("hub.verify_token") == token:
        return PlainTextResponse(q.get("hub.challenge", ""))
    return JSONResponse({"detail": "verify_token tidak cocok"}, status_code=403)


async def _handle(request: Request, tenant: TenantDep, session: TenantSessionDep, channel: str):
    body = await request.body()
    adapter = await service.adapter_for(session, tenant.slug, channel)
    assert isinstance(adapter, WhatsAppAdapter | TelegramAdapter)
    try:
        items = adapter.parse(body, request.headers)
    except WebhookRejected as exc:
        return None, _refused(exc)
    handled = await inbound.handle(session, tenant, channel, items)
    if items and handled.replays == len(items):
        return handled, JSONResponse(
            {"detail": "webhook ini sudah diterima sebelumnya (replay)"}, status_code=409
        )
    return handled, None


@router.post("/whatsapp/webhook")
async def whatsapp_webhook(request: Request, tenant: TenantDep, session: TenantSessionDep):
    handled, refused = await _handle(request, tenant, session, "whatsapp")
    if refused is not None:
        return refused
    assert handled is not None
    return {"applied": handled.applied, "acknowledged": handled.acknowledged}


@router.post("/telegram/webhook")
async def telegram_webhook(request: Request, tenant: TenantDep, session: TenantSessionDep):
    handled, refused = await _handle(request, tenant, session, "telegram")
    if refused is not None:
        return refused
    assert handled is not None
    if handled.answers:
        adapter = await service.adapter_for(session, tenant.slug, "telegram")
        assert isinstance(adapter, TelegramAdapter)
        for callback_id, text in handled.answers:
            await adapter.answer_callback(callback_id, text)
    return {"applied": handled.applied, "acknowledged": handled.acknowledged}


@router.post("/sms/dlr")
async def sms_dlr(request: Request, tenant: TenantDep, session: TenantSessionDep):
    adapter = await service.adapter_for(session, tenant.slug, "sms")
    if not isinstance(adapter, SmsGatewayAdapter):
        return JSONResponse({"detail": "SMS belum dikonfigurasi"}, status_code=404)
    try:
        item = adapter.parse_dlr(await request.body(), request.headers, request.query_params)
    except WebhookRejected as exc:
        return _refused(exc)
    if not await inbound.apply_status(session, tenant.slug, item):
        await session.rollback()
        return JSONResponse({"detail": "pesan SMS tidak dikenal"}, status_code=404)
    if not await inbound._first_time(session, "sms", item.event_id):
        await session.rollback()
        return JSONResponse({"detail": "laporan ini sudah diterima sebelumnya (replay)"}, status_code=409)
    await uow.commit(session)
    return {"applied": 1, "status": item.status}


@router.post("/webpush/receipt/{token}")
async def webpush_receipt(token: str, tenant: TenantDep, session: TenantSessionDep):
    """The OPD service worker showed the notification: the message is delivered (signed, idempotent)."""
    mid = ack.check_receipt(tenant.slug, token)
    if mid is None:
        return JSONResponse({"detail": "tanda terima push tidak valid"}, status_code=403)
    row = await session.get(ChannelMessage, mid)
    if row is None or row.channel != "webpush" or not row.provider_id:
        return JSONResponse({"detail": "pesan push tidak dikenal"}, status_code=404)
    item = Inbound("status", "webpush", provider_id=row.provider_id, status="delivered")
    await inbound.apply_status(session, tenant.slug, item)
    await uow.commit(session)
    return {"status": "delivered"}
