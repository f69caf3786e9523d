"""Own account: change password (policy enforced) and "log out everywhere" (stolen laptop)."""

from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, Depends, Form, Request
from fastapi.responses import RedirectResponse

from app.audit.service import record, record_platform
from app.auth.login import start_session
from app.auth.passwords import hash_password, password_problems, verify_password
from app.db import uow
from app.security.proxies import origin_of
from app.web.csrf import verify_csrf
from app.web.deps import PlatformUserDep, PublicSessionDep, TenantDep, TenantSessionDep, TenantUserDep
from app.web.templating import render

router = APIRouter(dependencies=[Depends(verify_csrf)], tags=["profile (HTML)"])


def _page(request, user, base, errors=None, message=None, status_code=200):
    return render(
        request,
        "security/profile.html",
        {"title": "Akun saya", "user": user, "base": base, "errors": errors or {}, "message": message},
        status_code=status_code,
    )


def _password_errors(user, current: str, new: str, confirm: str) -> dict:
    errors = {}
    if not verify_password(user.password_hash, current):
        errors["current_password"] = "Kata sandi saat ini salah"
    problems = password_problems(new, user.email)
    if problems:
        errors["new_password"] = "; ".join(problems)
    elif new != confirm:
        errors["confirm_password"] = "Konfirmasi tidak sama dengan kata sandi baru"
    return errors


async def _change_password(
    request, session, user, base, current, new, confirm, audit, login_url, **session_values
):
    errors = _password_errors(user, current, new, confirm)
    if errors:
        return _page(request, user, base, errors, status_code=422)
    user.password_hash = hash_password(new)
    user.session_version += 1  # every other device is logged out
    await audit(
        session,
        "password.change",
        actor_id=user.id,
        actor_label=user.email,
        origin=origin_of(request),
        entity="user",
        entity_id=user.id,
    )
    await uow.commit(session)
    start_session(request, u=user.id, v=user.session_version, **session_values)
    return _page(request, user, base, message="Kata sandi diganti. Perangkat lain telah dikeluarkan.")


async def _logout_everywhere(request, session, user, audit, login_url):
    user.session_version += 1
    await audit(
        session,
        "logout.everywhere",
        actor_id=user.id,
        actor_label=user.email,
        origin=origin_of(request),
        entity="user",
        entity_id=user.id,
    )
    await uow.commit(session)
    request.session.clear()
    return RedirectResponse(login_url, status_code=303)


@router.get("/t/{slug}/profile")
async def tenant_profile(request: Request, tenant: TenantDep, user: TenantUserDep):
    return _page(request, user, f"/t/{tenant.slug}/profile")


@router.post("/t/{slug}/profile/password")
async def tenant_password(
    request: Request,
    tenant: TenantDep,
    session: TenantSessionDep,
    user: TenantUserDep,
    current_password: Annotated[str, Form(max_length=256)] = "",
    new_password: Annotated[str, Form(max_length=300)] = "",
    confirm_password: Annotated[str, Form(max_length=300)] = "",
):
    return await _change_password(
        request,
        session,
        user,
        f"/t/{tenant.slug}/profile",
        current_password,
        new_password,
        confirm_password,
        record,
        f"/t/{tenant.slug}/login",
        k="tenant",
        s=tenant.slug,
    )


@router.post("/t/{slug}/profile/logout-all")
async def tenant_logout_all(
    request: Request, tenant: TenantDep, session: TenantSessionDep, user: TenantUserDep
):
    return await _logout_everywhere(request, session, user, record, f"/t/{tenant.slug}/login")


@router.get("/platform/profile")
async def platform_profile(request: Request, user: PlatformUserDep):
    return _page(request, user, "/platform/profile")


@router.post("/platform/profile/password")
async def platform_password(
    request: Request,
    session: PublicSessionDep,
    user: PlatformUserDep,
    current_password: Annotated[str, Form(max_length=256)] = "",
    new_password: Annotated[str, Form(max_length=300)] = "",
    confirm_password: Annotated[str, Form(max_length=300)] = "",
):
    return await _change_password(
        request,
        session,
        user,
        "/platform/profile",
        current_password,
        new_password,
        confirm_password,
        record_platform,
        "/login",
        k="platform",
    )


@router.post("/platform/profile/logout-all")
async def platform_logout_all(request: Request, session: PublicSessionDep, user: PlatformUserDep):
    return await _logout_everywhere(request, session, user, record_platform, "/login")
