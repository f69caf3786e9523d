"""A call's detail page (timings, positions, history, recordings with a player), the audio stream
(Range requests for seeking; every request authorised and audited) and the retention setting.

GET  /t/<slug>/calls/<id>                 operators, supervisors, admins
GET  /t/<slug>/recordings/<id>/audio      supervisors/admins, or the operator who took the call
GET/POST /t/<slug>/admin/recordings       admin: retention in days
"""

from __future__ import annotations

import re

from fastapi import APIRouter, Depends, Form, Request
from fastapi.responses import RedirectResponse, Response, StreamingResponse

from app.calls import service as calls
from app.calls.http import make_ctx, service_errors
from app.core.errors import InvalidInput, ServiceError
from app.location.service import map_fixes
from app.recordings import service
from app.recordings.store import get_store
from app.web.csrf import verify_csrf
from app.web.deps import AdminDep, OperatorDep, TenantDep, TenantSessionDep
from app.web.templating import render

router = APIRouter(prefix="/t/{slug}", dependencies=[Depends(verify_csrf)], tags=["recordings (HTML)"])
_RANGE = re.compile(r"bytes=(\d*)-(\d*)$")


@router.get("/calls/{call_id:int}", include_in_schema=False)
async def call_detail(
    call_id: int, request: Request, tenant: TenantDep, session: TenantSessionDep, user: OperatorDep
):
    with service_errors():
        call = await calls.get_call(session, call_id)
    recordings = await service.recordings_of(session, call.id)
    return render(
        request,
        "recordings/call_detail.html",
        {
            "call": call,
            "fixes": await map_fixes(session, [call.id]),
            "history": await calls.history(session, "call", call.id),
            "recordings": recordings,
            "may_listen": service.may_listen(request.state.principal, call),
            "retention_days": await service.retention_days(session),
        },
    )


def _parse_range(header: str | None, size: int) -> tuple[int, int] | None:
    if not header:
        return None
    m = _RANGE.match(header.strip())
    if not m or (not m.group(1) and not m.group(2)):
        raise InvalidInput("range", "Header Range tidak sah")
    if m.group(1):
        start = int(m.group(1))
        end = min(int(m.group(2)), size - 1) if m.group(2) else size - 1
    else:  # suffix: the last N bytes
        start, end = max(size - int(m.group(2)), 0), size - 1
    if start > end or start >= size:
        raise InvalidInput("range", "Rentang di luar ukuran rekaman")
    return start, end


@router.get("/recordings/{recording_id}/audio", include_in_schema=False)
async def audio(
    recording_id: int, request: Request, tenant: TenantDep, session: TenantSessionDep, user: OperatorDep
):
    byte_range = request.headers.get("range")
    with service_errors():
        rec = await service.open_for_listening(
            make_ctx(request, session, request.state.principal), recording_id, byte_range
        )
    store = get_store()
    headers = {
        "accept-ranges": "bytes",
        "cache-control": "private, no-store",
        "content-disposition": "inline",
        "x-content-type-options": "nosniff",
    }
    try:
        rng = _parse_range(byte_range, rec.size_bytes)
    except InvalidInput:
        return Response(status_code=416, headers={"content-range": f"bytes */{rec.size_bytes}"})
    if rng is None:
        headers["content-length"] = str(rec.size_bytes)
        return StreamingResponse(store.stream(rec.object_key), media_type=rec.media_type, headers=headers)
    start, end = rng
    headers["content-range"] = f"bytes {start}-{end}/{rec.size_bytes}"
    headers["content-length"] = str(end - start + 1)
    return StreamingResponse(
        store.stream(rec.object_key, start, end), status_code=206, media_type=rec.media_type, headers=headers
    )


@router.get("/admin/recordings", include_in_schema=False)
async def retention_page(request: Request, tenant: TenantDep, session: TenantSessionDep, user: AdminDep):
    return render(
        request, "recordings/settings.html", {"retention_days": await service.retention_days(session)}
    )


@router.post("/admin/recordings", include_in_schema=False)
async def retention_save(
    request: Request,
    tenant: TenantDep,
    session: TenantSessionDep,
    user: AdminDep,
    retention_days: str = Form(""),
):
    error = None
    try:
        days = int(retention_days)
        await service.set_retention(make_ctx(request, session, request.state.principal), days)
    except ValueError:
        error = "Masa simpan harus berupa bilangan bulat (hari)"
    except ServiceError as exc:
        await session.rollback()
        error = exc.message
    if error:
        return render(
            request,
            "recordings/settings.html",
            {"retention_days": retention_days, "error": error},
            status_code=422,
        )
    return RedirectResponse(f"/t/{tenant.slug}/admin/recordings?saved=1", status_code=303)
