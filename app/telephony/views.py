"""Telephony pages: the console's ringing panel (+ its live stream), callbacks, watch list, webhook secret."""

from __future__ import annotations

import asyncio
import json
from typing import Annotated

from fastapi import APIRouter, Depends, Form, Request
from fastapi.responses import RedirectResponse, StreamingResponse

from app import live
from app.calls.http import make_ctx, service_errors
from app.calls.phone import normalize_phone
from app.core.draining import DRAIN
from app.core.errors import InvalidInput, ServiceError
from app.reputation import display
from app.telephony import service
from app.telephony.signing import MAX_AGE_S, SIGNATURE_HEADER, TIMESTAMP_HEADER
from app.web.csrf import verify_csrf
from app.web.deps import AdminDep, OperatorDep, SupervisorDep, TenantDep, TenantSessionDep
from app.web.params import PathId
from app.web.templating import caller, is_htmx, render

router = APIRouter(
    prefix="/t/{slug}/telephony", dependencies=[Depends(verify_csrf)], tags=["telephony (HTML)"]
)
STREAM_TOPICS = {"ringing", "location", "callbacks", "chat"}
KEEPALIVE_S = 15.0


def _ctx(request: Request, session):
    return make_ctx(request, session, request.state.principal)


async def _panel_context(session, user_id: int) -> dict:
    ringing = await service.annotate(session, await service.ringing_calls(session))
    mine = await service.annotate(session, await service.my_live_calls(session, user_id))
    await display.annotate(session, ringing + mine)  # national record + suggested measure
    ringing = display.answering_order(ringing)
    locations = await service.call_locations(session, [r["call"].id for r in ringing + mine])
    return {"ringing": ringing, "mine": mine, "locations": locations}


@router.get("/panel", include_in_schema=False)
async def panel(request: Request, tenant: TenantDep, session: TenantSessionDep, user: OperatorDep):
    return render(request, "telephony/_ringing.html", await _panel_context(session, user.id))


@router.post("/calls/{call_id}/claim", include_in_schema=False)
async def claim(
    call_id: PathId, request: Request, tenant: TenantDep, session: TenantSessionDep, user: OperatorDep
):
    """htmx: the panel comes back either way, with a toast saying who won."""
    user_id = user.id  # read before a rollback expires the ORM object
    try:
        call = await service.claim(_ctx(request, session), call_id)
        message = f"Panggilan {caller(call)} Anda angkat — catat di formulir panggilan."
    except ServiceError as exc:
        if not is_htmx(request):
            with service_errors():
                raise
        await session.rollback()
        message = exc.message
    headers = {"HX-Trigger": json.dumps({"showToast": message, "telClaimed": {"call_id": call_id}})}
    return render(request, "telephony/_ringing.html", await _panel_context(session, user_id), headers=headers)


@router.get("/stream", include_in_schema=False)
async def stream(request: Request, tenant: TenantDep, user: OperatorDep):
    """Server-sent events for the panel: a ringing call reaches every console at once."""
    redis = request.app.state.redis

    async def events():
        pubsub = redis.pubsub()
        await pubsub.subscribe(live.channel(tenant.slug, redis))
        try:
            yield "retry: 3000\n\n"
            while not DRAIN.draining and not await request.is_disconnected():
                msg = await pubsub.get_message(ignore_subscribe_messages=True, timeout=KEEPALIVE_S)
                if msg is None:
                    yield ": keepalive\n\n"
                    continue
                notice = json.loads(msg["data"])
                if notice.get("topic") in STREAM_TOPICS:
                    yield f"event: {notice['topic']}\ndata: {json.dumps(notice.get('data') or {})}\n\n"
        except asyncio.CancelledError:
            pass
        finally:
            await pubsub.unsubscribe()
            await pubsub.aclose()

    return StreamingResponse(
        events(),
        media_type="text/event-stream",
        headers={"Cache-Control": "no-cache", "X-Accel-Buffering": "no"},
    )


# --- callbacks -------------------------------------------------------------------------------------


@router.get("/callbacks", include_in_schema=False)
async def callbacks(
    request: Request, tenant: TenantDep, session: TenantSessionDep, user: OperatorDep, status: str = "open"
):
    status = status if status in ("open", "done", "void") else "open"
    rows = await service.callback_tasks(session, status)
    rep = await service.annotate(session, [c for _, c in rows])
    items = [{"task": t, **r} for (t, _), r in zip(rows, rep, strict=False)]
    return render(request, "telephony/callbacks.html", {"items": items, "status": status, "user": user})


@router.post("/callbacks/{task_id}/done", include_in_schema=False)
async def callback_done(
    task_id: PathId,
    request: Request,
    tenant: TenantDep,
    session: TenantSessionDep,
    user: OperatorDep,
    note: Annotated[str, Form(max_length=500)] = "",
):
    with service_errors():
        await service.complete_callback(_ctx(request, session), task_id, note.strip() or None)
    return RedirectResponse(f"/t/{tenant.slug}/telephony/callbacks", status_code=303)


# --- watch list (supervisors) ----------------------------------------------------------------------


async def _watch_page(request, session, user, errors=None, form=None, status_code=200):
    return render(
        request,
        "telephony/watch.html",
        {
            "entries": await service.watch_list(session),
            "user": user,
            "errors": errors or {},
            "form": form or {},
        },
        status_code=status_code,
    )


@router.get("/watch", include_in_schema=False)
async def watch(request: Request, tenant: TenantDep, session: TenantSessionDep, user: SupervisorDep):
    return await _watch_page(request, session, user)


@router.post("/watch", include_in_schema=False)
async def watch_add(
    request: Request,
    tenant: TenantDep,
    session: TenantSessionDep,
    user: SupervisorDep,
    caller_number: Annotated[str, Form()] = "",
    reason: Annotated[str, Form()] = "",
):
    form = {"caller_number": caller_number, "reason": reason}
    errors = {}
    number = None
    try:
        number = normalize_phone(caller_number[:32])
    except ValueError as exc:
        errors["caller_number"] = str(exc)
    reason = reason.strip()
    if not 5 <= len(reason) <= 500:
        errors["reason"] = "Alasan wajib diisi (5–500 karakter) agar operator lain paham konteksnya"
    if not errors and number is not None:
        try:
            await service.add_watch(_ctx(request, session), number, reason)
        except InvalidInput as exc:
            await session.rollback()
            errors[exc.field] = exc.message
    if errors:
        return await _watch_page(request, session, user, errors, form, status_code=422)
    return RedirectResponse(f"/t/{tenant.slug}/telephony/watch", status_code=303)


@router.post("/watch/{entry_id}/remove", include_in_schema=False)
async def watch_remove(
    entry_id: PathId, request: Request, tenant: TenantDep, session: TenantSessionDep, user: SupervisorDep
):
    with service_errors():
        await service.remove_watch(_ctx(request, session), entry_id)
    return RedirectResponse(f"/t/{tenant.slug}/telephony/watch", status_code=303)


# --- webhook secret (admins) ---------------------------------------------------------------------------


def _integration_info(request: Request, slug: str) -> dict:
    base = str(request.base_url).rstrip("/")
    return {
        "events_url": f"{base}/api/v1/t/{slug}/telephony/events",
        "aml_url": f"{base}/api/v1/t/{slug}/telephony/aml",
        "ts_header": TIMESTAMP_HEADER,
        "sig_header": SIGNATURE_HEADER,
        "max_age": MAX_AGE_S,
        "grace_min": int(service.SECRET_GRACE.total_seconds() // 60),
    }


@router.get("/settings", include_in_schema=False)
async def settings_page(request: Request, tenant: TenantDep, session: TenantSessionDep, user: AdminDep):
    return render(
        request,
        "telephony/settings.html",
        {
            "secrets": await service.secret_status(session),
            "new_secret": None,
            "user": user,
            **_integration_info(request, tenant.slug),
        },
    )


@router.post("/settings/rotate", include_in_schema=False)
async def rotate(request: Request, tenant: TenantDep, session: TenantSessionDep, user: AdminDep):
    """The new secret is shown on this response only; afterwards only its age is visible."""
    value = await service.rotate_secret(_ctx(request, session))
    return render(
        request,
        "telephony/settings.html",
        {
            "secrets": await service.secret_status(session),
            "new_secret": value,
            "user": user,
            **_integration_info(request, tenant.slug),
        },
        headers={"Cache-Control": "no-store"},
    )
