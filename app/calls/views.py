"""HTML pages of the operator console (htmx)."""
from __future__ import annotations

from fastapi import APIRouter, Depends, Request
from fastapi.responses import RedirectResponse

from app.web.csrf import verify_csrf
from app.web.deps import TenantDep, TenantUserDep
from app.web.templating import render

router = APIRouter(prefix="/t/{slug}", dependencies=[Depends(verify_csrf)], tags=["console (HTML)"])


@router.get("/", include_in_schema=False)
async def console(request: Request, tenant: TenantDep, user: TenantUserDep):
    if user.role == "opd_staff":
        return RedirectResponse(f"/t/{tenant.slug}/opd", status_code=303)
    return render(request, "calls/console.html", {"user": user})
