"""The Kominfo dashboard's prank-trend panel (by province; never a number or a hash), the
operator's "warning SMS" action (step 1 of the graduated scale) and the supervisor review queue
(step 3: operators ask, supervisors decide)."""

from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, Depends, Form, Request
from fastapi.responses import RedirectResponse

from app.calls.http import make_ctx, toast_error, toast_json
from app.core.errors import FieldErrors, InvalidInput, ServiceError
from app.glossary import REVIEW_DECISION
from app.reputation import reviews
from app.reputation.service import province_trends
from app.reputation.warning import queue_warning
from app.web.csrf import verify_csrf
from app.web.deps import KominfoDep, OperatorDep, PublicSessionDep, SupervisorDep, TenantDep, TenantSessionDep
from app.web.params import PathId
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


# --- supervisor review (step 3) --------------------------------------------------------------------


@router.post("/t/{slug}/calls/{call_id}/review", include_in_schema=False, dependencies=[Depends(verify_csrf)])
async def request_review(
    call_id: PathId,
    request: Request,
    tenant: TenantDep,
    session: TenantSessionDep,
    user: OperatorDep,
    note: Annotated[str, Form()] = "",
):
    """One click on a ringing or active call; the answer is a toast. The call is untouched."""
    ctx = make_ctx(request, session, request.state.principal)
    try:
        review, created = await reviews.request_review(ctx, call_id, note)
    except ServiceError as exc:
        await session.rollback()
        return toast_error(exc)
    message = (
        f"Tinjauan supervisor diminta untuk {review.caller_number}."
        if created
        else f"{review.caller_number} sudah menunggu tinjauan supervisor (#{review.id})."
    )
    return toast_json({"review_id": review.id, "created": created}, 201 if created else 200, message)


async def _reviews_page(request, session, errors=None, form=None, status_code=200):
    return render(
        request,
        "reputation/reviews.html",
        {
            "open": await reviews.open_reviews(session),
            "decided": await reviews.recent_decisions(session),
            "decisions": REVIEW_DECISION,
            "errors": errors or {},
            "form": form or {},
        },
        status_code=status_code,
    )


@router.get("/t/{slug}/reviews", include_in_schema=False)
async def review_queue(request: Request, tenant: TenantDep, session: TenantSessionDep, user: SupervisorDep):
    return await _reviews_page(request, session)


@router.post("/t/{slug}/reviews/{review_id}", include_in_schema=False, dependencies=[Depends(verify_csrf)])
async def review_decide(
    review_id: PathId,
    request: Request,
    tenant: TenantDep,
    session: TenantSessionDep,
    user: SupervisorDep,
    decision: Annotated[str, Form()] = "",
    decision_note: Annotated[str, Form()] = "",
):
    """A plain form (works without JavaScript); refusals are shown beside the review's fields."""
    ctx = make_ctx(request, session, request.state.principal)
    try:
        await reviews.decide(ctx, review_id, decision, decision_note)
    except ServiceError as exc:
        await session.rollback()
        if isinstance(exc, FieldErrors):
            errors = exc.errors
        elif isinstance(exc, InvalidInput):
            errors = {"decision": exc.message}
        else:
            errors = {"__all__": exc.message}
        form = {"review_id": review_id, "decision": decision, "decision_note": decision_note}
        status = exc.status if exc.status in (404, 409) else 422
        return await _reviews_page(request, session, errors, form, status_code=status)
    return RedirectResponse(f"/t/{tenant.slug}/reviews", status_code=303)
