"""HTML: the one-tap acknowledgement page, channel settings and contacts (admin), the delivery
log (supervisor/admin), and the OPD queue page's web-push subscription endpoints."""

from __future__ import annotations

import time
from typing import Annotated, Any

from fastapi import APIRouter, Depends, Form, Request
from fastapi.responses import JSONResponse, RedirectResponse, Response
from sqlalchemy import select

from app.audit.service import record
from app.calls.models import Incident
from app.channels import ack, inbound, outbox, service, vapid
from app.channels.base import CHANNEL_LABELS, CHANNELS
from app.channels.models import MESSAGE_LABELS, ChannelContact, ChannelMessage
from app.channels.registry import ADAPTERS
from app.config import get_settings
from app.db import uow
from app.dispatch.models import Category, Dispatch, Opd
from app.dispatch.service import STATUS_LABELS, list_opds
from app.security.proxies import origin_of
from app.web.csrf import verify_csrf
from app.web.deps import AdminDep, OpdStaffDep, SupervisorDep, TenantDep, TenantSessionDep
from app.web.templating import render

router = APIRouter(prefix="/t/{slug}", dependencies=[Depends(verify_csrf)], tags=["channels (HTML)"])
CONTACT_CHANNELS = tuple(c for c in CHANNELS if c != "webpush")
DAY_LABELS = {"1": "Sen", "2": "Sel", "3": "Rab", "4": "Kam", "5": "Jum", "6": "Sab", "7": "Min"}


# --- one-tap acknowledgement ----------------------------------------------------------------------


async def _ack_target(session, slug: str, token: str) -> tuple[str, ChannelMessage | None]:
    parsed = ack.parse_token(token)
    if parsed is None:
        return "invalid", None
    row = await session.get(ChannelMessage, parsed.message_id, with_for_update=True)
    if row is None or row.dispatch_id is None:
        return "invalid", None
    state = ack.check_token(parsed, slug, row.dispatch_id, outbox.recipient_key(row))
    if state == "ok" and row.ack_used_at is not None:
        state = "used"
    return state, row


async def _dispatch_view(session, dispatch_id: int) -> dict[str, Any] | None:
    found = (
        await session.execute(
            select(Dispatch, Incident, Category.name, Opd.name)
            .join(Incident, Incident.id == Dispatch.incident_id)
            .join(Category, Category.id == Incident.category_id)
            .join(Opd, Opd.id == Dispatch.opd_id)
            .where(Dispatch.id == dispatch_id)
        )
    ).first()
    if found is None:
        return None
    d, inc, category, opd_name = found
    return {
        "dispatch": d,
        "incident": inc,
        "category": category,
        "opd_name": opd_name,
        "status_label": STATUS_LABELS.get(d.status, d.status),
        "map": outbox.map_link(inc.lat, inc.lon, inc.address),
    }


_ACK_STATUS = {"invalid": 404, "expired": 410, "used": 410}


@router.get("/ack/{token}", include_in_schema=False)
async def ack_page(request: Request, tenant: TenantDep, session: TenantSessionDep, token: str):
    state, row = await _ack_target(session, tenant.slug, token)
    ctx: dict[str, Any] = {"title": "Penugasan 112", "state": state, "token": token}
    if row is not None and state != "invalid":
        ctx.update(await _dispatch_view(session, row.dispatch_id or 0) or {})
        ctx["recipient"] = row.recipient
        await record(
            session,
            "channels.ack_link_opened",
            actor_label=f"{row.recipient} (tautan {row.channel})",
            origin=origin_of(request),
            entity="dispatch",
            entity_id=row.dispatch_id,
            after={"message_id": row.id, "state": state},
        )
        await uow.commit(session)
    return render(request, "channels/ack.html", ctx, status_code=_ACK_STATUS.get(state, 200))


@router.post("/ack/{token}", include_in_schema=False)
async def ack_submit(request: Request, tenant: TenantDep, session: TenantSessionDep, token: str):
    state, row = await _ack_target(session, tenant.slug, token)
    if state != "ok" or row is None:
        ctx = {"title": "Penugasan 112", "state": state, "token": token}
        return render(request, "channels/ack.html", ctx, status_code=_ACK_STATUS.get(state, 400))
    dispatch_id, recipient = row.dispatch_id, row.recipient
    result = await inbound.acknowledge(
        session, tenant, row, via=f"tautan {row.channel}", origin=origin_of(request)
    )
    ctx = {"title": "Penugasan 112", "state": result, "token": token, "recipient": recipient}
    ctx.update(await _dispatch_view(session, int(dispatch_id or 0)) or {})
    return render(request, "channels/ack.html", ctx, status_code=200 if result != "used" else 410)


# --- admin: contacts and duty schedules ---------------------------------------------------------


async def _contacts_ctx(session, **extra) -> dict[str, Any]:
    opds = await list_opds(session)
    return {
        "title": "Kontak piket & eskalasi",
        "section": "contacts",
        "contacts": await service.list_contacts(session),
        "opds": opds,
        "opd_names": {o.id: o.name for o in opds},
        "labels": CHANNEL_LABELS,
        "contact_channels": CONTACT_CHANNELS,
        "day_labels": DAY_LABELS,
        "errors": {},
        "form": {},
        **extra,
    }


@router.get("/admin/channels/contacts", include_in_schema=False)
async def contacts_page(request: Request, tenant: TenantDep, session: TenantSessionDep, user: AdminDep):
    return render(request, "channels/contacts.html", await _contacts_ctx(session))


@router.post("/admin/channels/contacts", include_in_schema=False)
async def contacts_create(request: Request, tenant: TenantDep, session: TenantSessionDep, user: AdminDep):
    form = await request.form()
    values = {k: str(v) for k, v in form.items() if k != "days"}
    days = "".join(str(v) for v in form.getlist("days"))
    opd_raw = values.get("opd_id", "")
    data = service.ContactInput(
        name=values.get("name", ""),
        role=values.get("role", "duty"),
        opd_id=int(opd_raw) if opd_raw.isdigit() else None,
        channels=[(values.get(f"channel_{i}", ""), values.get(f"address_{i}", "")) for i in range(3)],
        days=days,
        start_time=values.get("start_time", ""),
        end_time=values.get("end_time", ""),
    )
    try:
        contact = await service.create_contact(session, data)
    except service.ChannelInputError as exc:
        await session.rollback()
        ctx = await _contacts_ctx(session, errors={exc.field: exc.message}, form={**values, "days": days})
        return render(request, "channels/contacts.html", ctx, status_code=422)
    await record(
        session,
        "channels.contact_created",
        actor_id=user.id,
        actor_label=f"{user.full_name} ({user.role})",
        origin=origin_of(request),
        entity="channel_contact",
        entity_id=contact.id,
        after={
            "name": contact.name,
            "role": contact.role,
            "opd_id": contact.opd_id,
            "channels": contact.channels,
        },
    )
    await uow.commit(session)
    return RedirectResponse(f"/t/{tenant.slug}/admin/channels/contacts?saved=1", status_code=303)


@router.post("/admin/channels/contacts/{contact_id}/delete", include_in_schema=False)
async def contacts_delete(
    request: Request, tenant: TenantDep, session: TenantSessionDep, user: AdminDep, contact_id: int
):
    contact = await session.get(ChannelContact, contact_id)
    if contact is not None:
        contact.is_active = False
        await record(
            session,
            "channels.contact_removed",
            actor_id=user.id,
            actor_label=f"{user.full_name} ({user.role})",
            origin=origin_of(request),
            entity="channel_contact",
            entity_id=contact_id,
        )
        await uow.commit(session)
    return RedirectResponse(f"/t/{tenant.slug}/admin/channels/contacts", status_code=303)


# --- admin: channel settings ----------------------------------------------------------------------


async def _channels_ctx(session, tenant, **extra) -> dict[str, Any]:
    views = []
    for ch in CHANNELS:
        views.append(service.config_view(await service.get_config_row(session, ch), ch))
    base = outbox.base_url()
    return {
        "title": "Kanal peringatan",
        "section": "channels",
        "channels": views,
        "labels": CHANNEL_LABELS,
        "webhooks": {
            "whatsapp": f"{base}/api/v1/t/{tenant.slug}/channels/whatsapp/webhook",
            "telegram": f"{base}/api/v1/t/{tenant.slug}/channels/telegram/webhook",
        },
        "vapid_public": vapid.public_key(get_settings()),
        "errors": {},
        **extra,
    }


@router.get("/admin/channels", include_in_schema=False)
async def channels_page(request: Request, tenant: TenantDep, session: TenantSessionDep, user: AdminDep):
    return render(request, "channels/settings.html", await _channels_ctx(session, tenant))


@router.post("/admin/channels/{channel}", include_in_schema=False)
async def channels_save(
    request: Request, tenant: TenantDep, session: TenantSessionDep, user: AdminDep, channel: str
):
    if channel not in CHANNELS:
        return render(request, "error.html", {"message": "Kanal tidak dikenal"}, status_code=404)
    form = await request.form()
    values = {k: str(v) for k, v in form.items()}
    cls = ADAPTERS[channel]
    try:
        await service.save_config(
            session,
            tenant.slug,
            channel,
            enabled=values.get("enabled") == "on",
            settings={k: values.get(k, "") for k in cls.plain_fields},
            new_secrets={k: values.get(k, "") for k in cls.secret_fields},
        )
    except service.ChannelInputError as exc:
        await session.rollback()
        ctx = await _channels_ctx(session, tenant, errors={channel: {exc.field: exc.message}}, form=values)
        return render(request, "channels/settings.html", ctx, status_code=422)
    await record(
        session,
        "channels.config_saved",
        actor_id=user.id,
        actor_label=f"{user.full_name} ({user.role})",
        origin=origin_of(request),
        entity="channel",
        entity_id=channel,
        after={
            "enabled": values.get("enabled") == "on",
            "secrets_changed": [k for k in cls.secret_fields if values.get(k)],
        },
    )
    await uow.commit(session)
    return RedirectResponse(f"/t/{tenant.slug}/admin/channels?saved={channel}#{channel}", status_code=303)


@router.post("/admin/channels/{channel}/test", include_in_schema=False)
async def channels_test(
    request: Request,
    tenant: TenantDep,
    session: TenantSessionDep,
    user: AdminDep,
    channel: str,
    address: Annotated[str, Form()] = "",
):
    if channel not in CHANNELS or channel == "webpush":
        return render(
            request, "error.html", {"message": "Kanal ini tidak dapat diuji dari sini"}, status_code=404
        )
    try:
        ADAPTERS[channel].normalise_address(address)
    except ValueError as exc:
        ctx = await _channels_ctx(session, tenant, errors={channel: {"address": str(exc)}})
        return render(request, "channels/settings.html", ctx, status_code=422)
    result = await service.test_send(session, tenant.slug, channel, address)
    await record(
        session,
        "channels.test_sent",
        actor_id=user.id,
        actor_label=f"{user.full_name} ({user.role})",
        origin=origin_of(request),
        entity="channel",
        entity_id=channel,
        after={"ok": result.ok, "outcome": result.outcome, "error": result.error},
    )
    await uow.commit(session)
    ctx = await _channels_ctx(session, tenant, tested=channel, result=result)
    return render(request, "channels/settings.html", ctx, status_code=200)


# --- delivery log ---------------------------------------------------------------------------------


@router.get("/channels/log", include_in_schema=False)
async def delivery_log_page(
    request: Request,
    tenant: TenantDep,
    session: TenantSessionDep,
    user: SupervisorDep,
    dispatch: int | None = None,
):
    rows = await service.delivery_log(session, dispatch_id=dispatch)
    opds = {o.id: o.name for o in await list_opds(session, active_only=False)}
    return render(
        request,
        "channels/log.html",
        {
            "title": "Log pengiriman peringatan",
            "rows": rows,
            "opd_names": opds,
            "labels": CHANNEL_LABELS,
            "status_labels": MESSAGE_LABELS,
            "dispatch": dispatch,
        },
    )


# --- web push subscriptions from the OPD queue page ---------------------------------------------

SERVICE_WORKER = """\
/* Siaga112 OPD queue service worker: shows dispatch alerts pushed by the server (web push). */
self.addEventListener('push', (event) => {
  let data = {};
  try { data = event.data ? event.data.json() : {}; } catch (e) { data = {body: event.data && event.data.text()}; }
  event.waitUntil((async () => {
    await self.registration.showNotification(data.title || 'Siaga112', {
      body: data.body || '', data: {url: data.url || null}, requireInteraction: true, tag: data.url || undefined,
    });
    for (const c of await self.clients.matchAll({includeUncontrolled: true})) c.postMessage({push: data});
    // delivery receipt: the signed URL is bound to this one message (no cookie needed)
    if (data.receipt) { try { await fetch(data.receipt, {method: 'POST', credentials: 'omit'}); } catch (e) {} }
  })());
});
self.addEventListener('notificationclick', (event) => {
  event.notification.close();
  const url = event.notification.data && event.notification.data.url;
  if (url) event.waitUntil(self.clients.openWindow(url));
});
"""


@router.get("/opd/sw.js", include_in_schema=False)
async def service_worker(slug: str, tenant: TenantDep, user: OpdStaffDep) -> Response:
    return Response(
        SERVICE_WORKER,
        media_type="text/javascript",
        headers={"Cache-Control": "no-cache", "Service-Worker-Allowed": f"/t/{slug}/opd"},
    )


@router.get("/opd/push/key", include_in_schema=False)
async def push_key(tenant: TenantDep, user: OpdStaffDep):
    return {"publicKey": vapid.public_key(get_settings())}


@router.post("/opd/push/subscriptions", include_in_schema=False)
async def push_subscribe(request: Request, tenant: TenantDep, session: TenantSessionDep, user: OpdStaffDep):
    try:
        raw = await request.json()
    except ValueError:
        return JSONResponse({"field": "subscription", "message": "badan bukan JSON"}, status_code=422)
    if not isinstance(raw, dict):
        return JSONResponse({"field": "subscription", "message": "badan harus objek JSON"}, status_code=422)
    try:
        sub_id = await service.save_push_subscription(session, user.id, user.opd_id, raw)
    except service.ChannelInputError as exc:
        await session.rollback()
        return JSONResponse({"field": exc.field, "message": exc.message}, status_code=422)
    await uow.commit(session)
    return JSONResponse({"id": sub_id, "at": int(time.time())}, status_code=201)
