"""The operator console (htmx): call intake, incident form with map pin, dispatch, live fragments."""

from __future__ import annotations

import asyncio
import json
from typing import Annotated

from fastapi import APIRouter, Depends, Query, Request
from fastapi.responses import RedirectResponse, StreamingResponse
from sqlalchemy import select

from app import glossary, live
from app.bounds import OutOfBounds, parse_int
from app.calls import service
from app.calls.forms import clean, parse
from app.calls.http import make_ctx
from app.calls.models import OUTCOMES, Call
from app.calls.phone import normalize_phone
from app.calls.schemas import AttachCall, CallCorrection, CallCreate, IncidentCreate, IncidentUpdate
from app.core import clock
from app.core.draining import DRAIN
from app.core.errors import InvalidInput, NotFoundError, ServiceError
from app.dispatch import service as dispatching
from app.dispatch.schemas import DispatchCreate
from app.tenancy.mapview import map_view
from app.tenancy.models import Tenant
from app.tenancy.regions import districts
from app.web.csrf import verify_csrf
from app.web.deps import (
    OperatorDep,
    SettingsDep,
    TenantDep,
    TenantSessionDep,
    TenantUserDep,
)
from app.web.errors import NotFound
from app.web.params import PathId
from app.web.templating import render

router = APIRouter(prefix="/t/{slug}", dependencies=[Depends(verify_csrf)], tags=["console (HTML)"])

KEEPALIVE_S = 15.0
OUTCOME_BUTTONS = [  # value, label (app.glossary), shortcut key (Alt+key), css
    (value, glossary.OUTCOME[value], key, css)
    for value, key, css in (
        ("emergency", "E", "danger"),
        ("non_emergency_info", "I", "info"),
        ("prank", "P", "muted"),
        ("silent", "S", "muted"),
        ("misdial", "M", "muted"),
        ("duplicate", "D", "muted"),
    )
]
OUTCOME_LABELS = glossary.OUTCOME
CALL_FORM_FIELDS = ("caller_number", "channel", "language", "outcome", "duplicate_of_id", "notes")
INCIDENT_FORM_FIELDS = (
    "category_id",
    "priority",
    "address",
    "kecamatan",
    "kelurahan",
    "lat",
    "lon",
    "description",
    "people_involved",
)


def _ctx(request: Request, session):
    return make_ctx(request, session, request.state.principal)


def _toast(message: str, **extra) -> dict:
    return {"HX-Trigger": json.dumps({"showToast": message, **extra})}


async def _call_form(request, session, *, form=None, errors=None, call=None, status_code=200, headers=None):
    recent = (await service.list_calls(session, outcome="emergency", per_page=15))[0]
    return render(
        request,
        "calls/_call_form.html",
        {
            "form": form or {},
            "errors": errors or {},
            "call": call,
            "buttons": OUTCOME_BUTTONS,
            "recent_emergencies": recent,
        },
        status_code=status_code,
        headers=headers,
    )


async def _incident_form(request, session, call, *, form=None, errors=None, status_code=200, headers=None):
    tenant = request.state.tenant
    return render(
        request,
        "calls/_incident_form.html",
        {
            "call": call,
            "form": form or {},
            "errors": errors or {},
            "categories": await dispatching.list_categories(session),
            "kecamatan": districts(tenant.region_code),
        },
        status_code=status_code,
        headers=headers,
    )


async def _dispatch_form(request, session, incident, *, errors=None, status_code=200, headers=None):
    details = (await service.incident_details(session, [incident]))[0]
    suggested = {o.id for o in await dispatching.suggested_opds(session, incident.category_id)}
    busy = {d["opd_id"] for d in details["dispatches"] if d["status"] in dispatching.ACTIVE}
    return render(
        request,
        "calls/_dispatch_form.html",
        {
            "incident": details,
            "opds": await dispatching.list_opds(session),
            "suggested": suggested - busy,
            "busy": busy,
            "errors": errors or {},
        },
        status_code=status_code,
        headers=headers,
    )


@router.get("/", include_in_schema=False)
async def console(
    request: Request,
    tenant: TenantDep,
    session: TenantSessionDep,
    user: TenantUserDep,
    settings: SettingsDep,
):
    if user.role == "opd_staff":
        return RedirectResponse(f"/t/{tenant.slug}/opd", status_code=303)
    recent = (await service.list_calls(session, outcome="emergency", per_page=15))[0]
    # On the request's own connection (public.tenants is schema-qualified): a second session
    # would wait for a second server connection while this one holds its transaction, which
    # behind PgBouncer with one server connection never comes (tests/test_pgbouncer.py).
    row = (await session.execute(select(Tenant).where(Tenant.id == tenant.id))).scalar_one()
    return render(
        request,
        "calls/console.html",
        {
            "user": user,
            "form": {},
            "errors": {},
            "call": None,
            "buttons": OUTCOME_BUTTONS,
            "recent_emergencies": recent,
            "map_view": map_view(row, settings),
        },
    )


@router.get("/live", include_in_schema=False)
async def live_stream(request: Request, tenant: TenantDep, user: TenantUserDep):
    """Server-sent events: one per change notice; htmx re-fetches the named fragment.

    A reader task relays Redis notices into a queue; the loop sends a keepalive comment every
    few seconds, so a vanished client is noticed (send fails or is_disconnected) and the Redis
    subscription is closed.
    """
    redis = request.app.state.redis

    async def events():
        queue: asyncio.Queue = asyncio.Queue(maxsize=100)

        async def relay():
            async for notice in live.listen(redis, tenant.slug):
                if not queue.full():
                    queue.put_nowait(notice)

        reader = asyncio.create_task(relay())
        try:
            yield "retry: 3000\n\n"
            while not DRAIN.draining and not await request.is_disconnected():
                if reader.done():
                    break  # Redis went away: the browser reconnects after `retry`
                try:
                    notice = await asyncio.wait_for(queue.get(), timeout=KEEPALIVE_S)
                except TimeoutError:
                    yield ": keepalive\n\n"
                    continue
                topic = str(notice.get("topic", "update"))
                yield f"event: {topic}\ndata: {json.dumps(notice.get('data') or {})}\n\n"
        finally:
            reader.cancel()
            try:
                await reader
            except (asyncio.CancelledError, Exception):
                pass

    return StreamingResponse(
        events(),
        media_type="text/event-stream",
        headers={"Cache-Control": "no-cache", "X-Accel-Buffering": "no"},
    )


# --- fragments --------------------------------------------------------------------------------


@router.get("/fragments/calls", include_in_schema=False)
async def calls_fragment(request: Request, tenant: TenantDep, session: TenantSessionDep, user: OperatorDep):
    active, _ = await service.list_calls(session, active=True, per_page=30)
    # A call this operator answered through telephony is already in "Panggilan aktif Anda" (panel).
    active = [c for c in active if not (c.operator_id == user.id and c.external_id and c.ended_at is None)]
    recent, _ = await service.list_calls(session, per_page=15)
    return render(
        request, "calls/_calls.html", {"active": active, "recent": recent, "labels": OUTCOME_LABELS}
    )


@router.get("/fragments/incidents", include_in_schema=False)
async def incidents_fragment(
    request: Request, tenant: TenantDep, session: TenantSessionDep, user: OperatorDep
):
    incidents = await service.incident_details(session, await service.list_incidents(session, status="open"))
    return render(
        request, "calls/_incidents.html", {"incidents": incidents, "labels": dispatching.STATUS_LABELS}
    )


@router.get("/fragments/caller", include_in_schema=False)
async def caller_fragment(
    request: Request,
    tenant: TenantDep,
    session: TenantSessionDep,
    user: OperatorDep,
    caller_number: Annotated[str, Query(max_length=64)] = "",
):
    number, problem, hist = None, None, None
    if caller_number.strip():
        try:
            number = normalize_phone(caller_number[:32])
        except ValueError as exc:
            problem = str(exc)
    if number:
        hist = await service.caller_history(session, number)
    return render(
        request,
        "calls/_caller.html",
        {"number": number, "problem": problem, "hist": hist, "labels": OUTCOME_LABELS},
    )


@router.get("/fragments/nearby", include_in_schema=False)
async def nearby_fragment(
    request: Request,
    tenant: TenantDep,
    session: TenantSessionDep,
    user: OperatorDep,
    category_id: str = "",
    lat: str = "",
    lon: str = "",
    call_id: str = "",
):
    items = []
    try:
        cid = int(category_id)
        la, lo = (float(lat), float(lon)) if lat and lon else (None, None)
        if la is not None and lo is not None and not (-12 <= la <= 7 and 94 <= lo <= 142):
            la = lo = None
        items = await service.nearby_incidents(session, cid, la, lo)
    except ValueError:
        pass
    return render(request, "calls/_nearby.html", {"items": items, "call_id": call_id})


# --- intake -----------------------------------------------------------------------------------


@router.get("/calls/new", include_in_schema=False)
async def new_call_form(request: Request, tenant: TenantDep, session: TenantSessionDep, user: OperatorDep):
    return await _call_form(request, session)


@router.get("/calls/{call_id}/form", include_in_schema=False)
async def existing_call_form(
    call_id: PathId, request: Request, tenant: TenantDep, session: TenantSessionDep, user: OperatorDep
):
    """Record the outcome of a call that already exists (rung in through telephony)."""
    call = await _get_or_404(service.get_call(session, call_id))
    if call.outcome == "emergency" and call.incident_id is None:
        return await _incident_form(request, session, call)
    return await _call_form(
        request,
        session,
        call=call,
        form={
            "caller_number": call.caller_number or call.caller_number_raw or "",
            "channel": call.channel,
            "notes": call.notes or "",
        },
    )


async def _reload(session, call_id: int | None):
    """After a rollback ORM objects are expired; the re-shown form still needs its call (by id,
    read before the rollback: an expired object no longer knows it)."""
    if call_id is None:
        return None
    return await session.get(Call, call_id, populate_existing=True)


async def _get_or_404(coro):
    try:
        return await coro
    except NotFoundError as exc:
        raise NotFound(exc.message) from exc


@router.post("/calls", include_in_schema=False)
async def log_call(request: Request, tenant: TenantDep, session: TenantSessionDep, user: OperatorDep):
    """Log a call (or record the outcome of an existing one); an emergency continues to the incident form."""
    form = await request.form()
    data = clean(form, CALL_FORM_FIELDS)
    raw_id = form.get("call_id")
    existing_id = raw_id if isinstance(raw_id, str) else None
    errors: dict = {}
    call = None
    try:
        if existing_id:
            call = await service.get_call(
                session, parse_int(existing_id, "call_id", lo=1, label="ID panggilan")
            )
            data.pop("caller_number", None)  # the number the network delivered stays authoritative
            correction, errors = parse(CallCorrection, data)
            if correction is not None:
                call = await service.correct_call(_ctx(request, session), call.id, correction)
        else:
            if data.get("outcome") not in OUTCOMES:
                data.setdefault("outcome", None)
            created, errors = parse(CallCreate, {**data, "answered_at": clock.now()})
            if created is not None:
                call = await service.create_call(_ctx(request, session), created)
    except (InvalidInput, OutOfBounds) as exc:
        # call_id is a hidden field: its problem is shown at the top of the form.
        errors = {exc.field if exc.field != "call_id" else "__all__": exc.message}
    except ServiceError as exc:
        errors = {"__all__": exc.message}
    except ValueError:  # never Python's own text (e.g. "invalid literal for int()") to the operator
        errors = {"__all__": "Data tidak valid; periksa isian formulir"}
    if errors:
        call_id = call.id if existing_id and call is not None and "id" in call.__dict__ else None
        await session.rollback()
        call = await _reload(session, call_id)
        return await _call_form(request, session, form=dict(form), errors=errors, status_code=422, call=call)
    assert call is not None  # no errors: the call was written
    label = OUTCOME_LABELS.get(call.outcome or "", "tanpa hasil")
    # The incident form has no number field: console.js refreshes the caller's history box itself.
    logged = {"callerChanged": {"number": call.caller_number}}
    if call.outcome == "emergency" and call.incident_id is None:
        return await _incident_form(
            request,
            session,
            call,
            headers=_toast(f"Panggilan #{call.id} dicatat: darurat — isi insiden", **logged),
        )
    # (the blank form that follows loads the history of whatever number is typed next)
    return await _call_form(request, session, headers=_toast(f"Panggilan #{call.id} dicatat: {label}"))


@router.post("/incidents", include_in_schema=False)
async def open_incident(request: Request, tenant: TenantDep, session: TenantSessionDep, user: OperatorDep):
    form = await request.form()
    data = clean(form, (*INCIDENT_FORM_FIELDS, "call_id"))
    call = None
    try:
        if data.get("call_id"):
            call = await service.get_call(session, parse_int(data["call_id"], "call_id", lo=1))
    except (ServiceError, ValueError):
        data.pop("call_id", None)
    payload, errors = parse(IncidentCreate, data)
    incident = None
    if payload is not None:
        try:
            incident = await service.open_incident(_ctx(request, session), payload)
        except InvalidInput as exc:
            errors = {exc.field: exc.message}
        except ServiceError as exc:
            errors = {"__all__": exc.message}
    if errors or incident is None:
        call_id = call.id if call is not None else None
        await session.rollback()
        return await _incident_form(
            request, session, await _reload(session, call_id), form=dict(form), errors=errors, status_code=422
        )
    return await _dispatch_form(
        request, session, incident, headers=_toast(f"Insiden #{incident.id} dibuka — pilih OPD")
    )


@router.post("/incidents/{incident_id}/attach", include_in_schema=False)
async def attach_call(
    incident_id: PathId, request: Request, tenant: TenantDep, session: TenantSessionDep, user: OperatorDep
):
    form = await request.form()
    payload, _ = parse(AttachCall, clean(form, ("call_id",)))
    if payload is None:
        return await _call_form(request, session, headers=_toast("Panggilan tidak valid"))
    try:
        incident = await service.attach_call(_ctx(request, session), incident_id, payload)
    except ServiceError as exc:
        await session.rollback()
        return await _call_form(request, session, headers=_toast(exc.message))
    return await _call_form(
        request,
        session,
        headers=_toast(f"Panggilan #{payload.call_id} digabungkan ke insiden #{incident.id}"),
    )


@router.get("/incidents/{incident_id}/dispatch", include_in_schema=False)
async def dispatch_form(
    incident_id: PathId, request: Request, tenant: TenantDep, session: TenantSessionDep, user: OperatorDep
):
    incident = await _get_or_404(service.get_incident(session, incident_id))
    return await _dispatch_form(request, session, incident)


@router.post("/incidents/{incident_id}/dispatch", include_in_schema=False)
async def dispatch(
    incident_id: PathId, request: Request, tenant: TenantDep, session: TenantSessionDep, user: OperatorDep
):
    incident = await _get_or_404(service.get_incident(session, incident_id))
    form = await request.form()
    payload, errors = parse(DispatchCreate, clean(form, ("opd_ids",), lists=("opd_ids",)))
    if payload is None:
        errors = {"opd_ids": "Pilih minimal satu OPD"}
    else:
        try:
            created = await dispatching.dispatch_incident(_ctx(request, session), incident_id, payload)
        except ServiceError as exc:
            await session.rollback()
            errors = {"opd_ids": exc.message}
    if errors:
        return await _dispatch_form(request, session, incident, errors=errors, status_code=422)
    return await _call_form(
        request, session, headers=_toast(f"Insiden #{incident_id} dikirim ke {len(created)} OPD")
    )


@router.post("/incidents/{incident_id}/close", include_in_schema=False)
async def close_incident(
    incident_id: PathId, request: Request, tenant: TenantDep, session: TenantSessionDep, user: OperatorDep
):
    message = f"Insiden #{incident_id} ditutup"
    try:
        await service.update_incident(_ctx(request, session), incident_id, IncidentUpdate(status="closed"))
    except NotFoundError as exc:
        raise NotFound(exc.message) from exc
    except ServiceError as exc:
        await session.rollback()
        message = exc.message
    resp = await incidents_fragment(request, tenant, session, user)
    resp.headers.update(_toast(message))
    return resp
