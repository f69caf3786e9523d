"""The OPD queue (/t/<slug>/opd): agency staff see only their agency's dispatches and move each
one forward with one click; a stale click gets a clear message instead of overwriting."""

from __future__ import annotations

import json
from typing import Annotated

from fastapi import APIRouter, Depends, Form, Request

from app.calls.http import make_ctx
from app.core.errors import NotFoundError, ServiceError
from app.dispatch import service
from app.dispatch.models import Opd
from app.dispatch.schemas import DispatchTransition
from app.web.csrf import verify_csrf
from app.web.deps import OpdStaffDep, TenantDep, TenantSessionDep
from app.web.errors import NotFound
from app.web.params import PathId
from app.web.templating import render

router = APIRouter(prefix="/t/{slug}/opd", dependencies=[Depends(verify_csrf)], tags=["OPD queue (HTML)"])
STEPS = ("sent", "acknowledged", "en_route", "on_scene", "resolved")


async def _queue_ctx(request, session) -> dict:
    # The principal, not the ORM user: after a rollback ORM objects are expired.
    return {
        "items": await service.opd_queue(session, request.state.principal.opd_id),
        "labels": service.STATUS_LABELS,
        "actions": service.ACTION_LABELS,
        "next_step": service.NEXT_STEP,
        "steps": STEPS,
    }


async def _queue_fragment(request, session, user, message: str | None = None, status_code: int = 200):
    headers = {"HX-Trigger": json.dumps({"showToast": message})} if message else None
    return render(
        request,
        "dispatch/_queue.html",
        await _queue_ctx(request, session),
        status_code=status_code,
        headers=headers,
    )


@router.get("", include_in_schema=False)
async def queue_page(request: Request, tenant: TenantDep, session: TenantSessionDep, user: OpdStaffDep):
    opd = await session.get(Opd, user.opd_id)
    return render(request, "dispatch/queue.html", {"opd": opd, **await _queue_ctx(request, session)})


@router.get("/fragments/queue", include_in_schema=False)
async def queue_fragment(request: Request, tenant: TenantDep, session: TenantSessionDep, user: OpdStaffDep):
    return await _queue_fragment(request, session, user)


async def _move(request, session, user, dispatch_id: int, status: str, version: int | None, reason=None):
    try:
        data = DispatchTransition(status=status, version=version, reason=reason)
    except ValueError:
        return await _queue_fragment(
            request, session, user, "Alasan penolakan wajib diisi (minimal 3 karakter)"
        )
    try:
        d = await service.transition(make_ctx(request, session, request.state.principal), dispatch_id, data)
    except NotFoundError as exc:
        raise NotFound(exc.message) from exc
    except ServiceError as exc:
        await session.rollback()
        return await _queue_fragment(request, session, user, exc.message)
    return await _queue_fragment(
        request, session, user, f"Penugasan #{d.id}: {service.STATUS_LABELS[d.status]}"
    )


@router.post("/dispatches/{dispatch_id}/advance", include_in_schema=False)
async def advance(
    dispatch_id: PathId,
    request: Request,
    tenant: TenantDep,
    session: TenantSessionDep,
    user: OpdStaffDep,
    version: Annotated[int | None, Form()] = None,
):
    """One click: the next step of the lifecycle, guarded by the version the card showed."""
    try:
        d = await service.get_visible_dispatch(session, request.state.principal, dispatch_id)
    except NotFoundError as exc:
        raise NotFound(exc.message) from exc
    step = service.NEXT_STEP.get(d.status)
    if step is None:
        return await _queue_fragment(request, session, user, "Penugasan ini sudah selesai")
    return await _move(request, session, user, dispatch_id, step, version)


@router.post("/dispatches/{dispatch_id}/reject", include_in_schema=False)
async def reject(
    dispatch_id: PathId,
    request: Request,
    tenant: TenantDep,
    session: TenantSessionDep,
    user: OpdStaffDep,
    version: Annotated[int | None, Form()] = None,
    reason: Annotated[str, Form(max_length=1000)] = "",
):
    reason = (reason or request.headers.get("hx-prompt", ""))[:1000].strip()
    return await _move(request, session, user, dispatch_id, "rejected", version, reason)
