"""Login and logout pages for regency staff (/t/<slug>/login) and ministry staff (/login)."""

from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, Depends, Form, Request
from fastapi.responses import RedirectResponse

from app.audit.service import record, record_platform
from app.auth.login import ROLE_HOME, safe_next, start_session
from app.auth.ratelimit import LoginLimiter, wait_message
from app.auth.service import authenticate_platform_user, authenticate_tenant_user
from app.db import uow
from app.security.proxies import client_address, origin_of
from app.security.sso import audit_logout, platform_sso_url, tenant_sso_url
from app.web.csrf import verify_csrf
from app.web.deps import PublicSessionDep, TenantDep, TenantSessionDep
from app.web.templating import render

router = APIRouter(dependencies=[Depends(verify_csrf)], tags=["auth (HTML)"])


def _limiter(request: Request, scope: str) -> LoginLimiter:
    return LoginLimiter(request.app.state.redis, scope)


async def _check_password(
    request: Request, session, limiter_scope: str, email: str, password: str, authenticate, audit_failure
):
    """The password step shared by regency and ministry logins: required fields, the Redis
    throttle (429 + Retry-After while locked out), then the check; failures are audited."""
    errors: dict[str, str] = {}
    if not email.strip():
        errors["email"] = "Email wajib diisi"
    if not password:
        errors["password"] = "Kata sandi wajib diisi"
    user, status, headers = None, 422, None
    limiter, ip = _limiter(request, limiter_scope), client_address(request) or "-"
    if not errors:
        wait = await limiter.retry_after(email, ip)
        if wait:
            errors["password"], status, headers = wait_message(wait), 429, {"Retry-After": str(wait)}
        else:
            user = await authenticate()
            if user is None:
                await audit_failure(await limiter.failed(email, ip))
                await uow.commit(session)
                errors["password"], status = "Email atau kata sandi salah", 401
            else:
                await limiter.succeeded(email, ip)
    return user, errors, status, headers


@router.get("/t/{slug}/login")
async def tenant_login_page(
    request: Request, tenant: TenantDep, session: TenantSessionDep, next: str | None = None
):
    return render(
        request,
        "auth/login.html",
        {
            "action": f"/t/{tenant.slug}/login",
            "next": next,
            "title": f"Masuk — 112 {tenant.name}",
            "sso_url": await tenant_sso_url(session, tenant.slug),
        },
    )


@router.post("/t/{slug}/login")
async def tenant_login(
    request: Request,
    tenant: TenantDep,
    session: TenantSessionDep,
    email: Annotated[str, Form(max_length=254)] = "",
    password: Annotated[str, Form(max_length=256)] = "",
    next: Annotated[str | None, Form()] = None,
):
    async def audit_failure(wait: int | None) -> None:
        await record(
            session,
            "login.failure",
            actor_label=email.strip()[:254],
            origin=origin_of(request),
            entity="user",
            after={"locked_for_s": wait} if wait else None,
        )

    user, errors, status, headers = await _check_password(
        request,
        session,
        tenant.slug,
        email,
        password,
        lambda: authenticate_tenant_user(session, email, password),
        audit_failure,
    )
    if errors:
        return render(
            request,
            "auth/login.html",
            {
                "action": f"/t/{tenant.slug}/login",
                "errors": errors,
                "email": email,
                "next": next,
                "title": f"Masuk — 112 {tenant.name}",
                "sso_url": await tenant_sso_url(session, tenant.slug),
            },
            status_code=status,
            headers=headers,
        )
    await record(
        session,
        "login.success",
        actor_id=user.id,
        actor_label=user.email,
        origin=origin_of(request),
        entity="user",
        entity_id=user.id,
        after={"method": "password"},
    )
    await uow.commit(session)
    start_session(request, k="tenant", s=tenant.slug, u=user.id, v=user.session_version)
    target = safe_next(next, f"/t/{tenant.slug}/") or ROLE_HOME[user.role].format(slug=tenant.slug)
    return RedirectResponse(target, status_code=303)


@router.get("/login")
async def platform_login_page(request: Request, session: PublicSessionDep, next: str | None = None):
    return render(
        request,
        "auth/login.html",
        {
            "action": "/login",
            "next": next,
            "title": "Masuk — Kominfo / Komdigi",
            "sso_url": await platform_sso_url(session),
        },
    )


@router.post("/login")
async def platform_login(
    request: Request,
    session: PublicSessionDep,
    email: Annotated[str, Form(max_length=254)] = "",
    password: Annotated[str, Form(max_length=256)] = "",
    next: Annotated[str | None, Form()] = None,
):
    async def audit_failure(wait: int | None) -> None:
        await record_platform(
            session,
            "login.failure",
            actor_label=email.strip()[:254],
            origin=origin_of(request),
            entity="platform_user",
            after={"locked_for_s": wait} if wait else None,
        )

    user, errors, status, headers = await _check_password(
        request,
        session,
        "platform",
        email,
        password,
        lambda: authenticate_platform_user(session, email, password),
        audit_failure,
    )
    if errors:
        return render(
            request,
            "auth/login.html",
            {
                "action": "/login",
                "errors": errors,
                "email": email,
                "next": next,
                "title": "Masuk — Kominfo / Komdigi",
                "sso_url": await platform_sso_url(session),
            },
            status_code=status,
            headers=headers,
        )
    await record_platform(
        session,
        "login.success",
        actor_id=user.id,
        actor_label=user.email,
        origin=origin_of(request),
        entity="platform_user",
        entity_id=user.id,
        after={"method": "password"},
    )
    await uow.commit(session)
    start_session(request, k="platform", u=user.id, v=user.session_version)
    return RedirectResponse(safe_next(next, "/national") or "/national", status_code=303)


@router.post("/logout")
async def logout(request: Request):
    slug = request.session.get("s")
    await audit_logout(request)
    request.session.clear()
    return RedirectResponse(f"/t/{slug}/login" if slug else "/login", status_code=303)
