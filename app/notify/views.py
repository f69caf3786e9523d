"""In-app notifications page: supervisors see the tenant's, OPD staff only their agency's."""

from __future__ import annotations

from fastapi import APIRouter, Depends, Request
from fastapi.responses import RedirectResponse

from app.db import uow
from app.notify.service import list_notifications, mark_read
from app.web.csrf import verify_csrf
from app.web.deps import TenantDep, TenantSessionDep, TenantUserDep
from app.web.errors import NotFound
from app.web.params import PathId
from app.web.templating import is_htmx, render

router = APIRouter(prefix="/t/{slug}", dependencies=[Depends(verify_csrf)], tags=["notifications (HTML)"])


@router.get("/notifications")
async def notifications_page(
    request: Request, tenant: TenantDep, session: TenantSessionDep, user: TenantUserDep, unread: bool = False
):
    items = await list_notifications(session, user.role, user.opd_id, unread_only=unread)
    name = "notify/_list.html" if is_htmx(request) else "notify/index.html"
    return render(request, name, {"title": "Notifikasi", "items": items, "unread": unread})


@router.post("/notifications/{notification_id}/read")
async def notification_read(
    request: Request,
    tenant: TenantDep,
    session: TenantSessionDep,
    user: TenantUserDep,
    notification_id: PathId,
):
    if not await mark_read(session, notification_id, user.id, user.role, user.opd_id):
        raise NotFound("Notifikasi tidak ditemukan atau sudah dibaca")
    await uow.commit(session)
    if is_htmx(request):
        items = await list_notifications(session, user.role, user.opd_id)
        return render(request, "notify/_list.html", {"items": items})
    return RedirectResponse(f"/t/{tenant.slug}/notifications", status_code=303)
