"""The Kominfo dashboard's prank-trend panel (by province; never a number or a hash), and the
operator's "warning SMS" action (step 1 of the graduated scale)."""

from __future__ import annotations

from fastapi import APIRouter, Depends, Request

from app.calls.http import make_ctx, toast_error, toast_json
from app.core.errors import ServiceError
from app.reputation.service import province_trends
from app.reputation.warning import queue_warning
from app.web.csrf import verify_csrf
from app.web.deps import KominfoDep, OperatorDep, PublicSessionDep, TenantDep, TenantSessionDep
from app.web.templating import render

router = APIRouter(tags=["national (HTML)"])


@router.get("/national/prank-trends", include_in_schema=False)
async def prank_trends(request: Request, user: KominfoDep, session: PublicSessionDep):
    return render(request, "reputation/_trends.html", {"prank_trends": await province_trends(session)})


@router.post(
    "/t/{slug}/calls/{call_id}/warning-sms", include_in_schema=False, dependencies=[Depends(verify_csrf)]
)
async def warning_sms(
    call_id: int, request: Request, tenant: TenantDep, session: TenantSessionDep, user: OperatorDep
):
    """Queue the warning SMS (outbox); the answer is a toast. The call itself is untouched."""
    ctx = make_ctx(request, session, request.state.principal)
    try:
        queued = await queue_warning(ctx, call_id)
    except ServiceError as exc:
        await session.rollback()
        return toast_error(exc)
    message = f"SMS peringatan diantrekan ke {queued.to} (lihat log pengiriman)."
    return toast_json({"message_id": queued.message_id, "to": queued.to}, 202, message)
