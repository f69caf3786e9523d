"""Login and logout pages for regency staff (/t/<slug>/login) and ministry staff (/login)."""
from __future__ import annotations

from typing import Annotated
from urllib.parse import urlparse

from fastapi import APIRouter, Depends, Form, Request
from fastapi.responses import RedirectResponse

from app.auth.service import authenticate_platform_user, authenticate_tenant_user
from app.web.csrf import verify_csrf
from app.web.deps import PublicSessionDep, TenantDep, TenantSessionDep
from app.web.templating import render

router = APIRouter(dependencies=[Depends(verify_csrf)], tags=["auth (HTML)"])

ROLE_HOME = {
    "admin": "/t/{slug}/",
    "supervisor": "/t/{slug}/",
    "operator": "/t/{slug}/",
    "opd_staff": "/t/{slug}/opd",
}


def _safe_next(next_url: str | None, prefix: str) -> str | None:
    """Only same-site paths under the expected prefix; never an absolute URL (open redirect)."""
    if not next_url:
        return None
    parsed = urlparse(next_url)
    if parsed.scheme or parsed.netloc or not next_url.startswith(prefix) or next_url.startswith("//"):
        return None
    return next_url


def _start_session(request: Request, **values) -> None:
    csrf = request.session.get("csrf")
    request.session.clear()
    request.session.update(values)
    if csrf:
        request.session["csrf"] = csrf


@router.get("/t/{slug}/login")
async def tenant_login_page(request: Request, tenant: TenantDep, next: str | None = None):
    return render(request, "auth/login.html", {"action": f"/t/{tenant.slug}/login", "next": next,
                                               "title": f"Masuk — 112 {tenant.name}"})


@router.post("/t/{slug}/login")
async def tenant_login(
    request: Request,
    tenant: TenantDep,
    session: TenantSessionDep,
    email: Annotated[str, Form(max_length=254)] = "",
    password: Annotated[str, Form(max_length=256)] = "",
    next: Annotated[str | None, Form()] = None,
):
    errors = {}
    if not email.strip():
        errors["email"] = "Email wajib diisi"
    if not password:
        errors["password"] = "Kata sandi wajib diisi"
    user = None
    if not errors:
        user = await authenticate_tenant_user(session, email, password)
        if user is None:
            errors["password"] = "Email atau kata sandi salah"
    if errors:
        return render(request, "auth/login.html",
                      {"action": f"/t/{tenant.slug}/login", "errors": errors, "email": email, "next": next,
                       "title": f"Masuk — 112 {tenant.name}"}, status_code=401 if user is None and "password" in errors and len(errors) == 1 else 422)
    _start_session(request, k="tenant", s=tenant.slug, u=user.id, v=user.session_version)
    target = _safe_next(next, f"/t/{tenant.slug}/") or ROLE_HOME[user.role].format(slug=tenant.slug)
    return RedirectResponse(target, status_code=303)


@router.get("/login")
async def platform_login_page(request: Request, next: str | None = None):
    return render(request, "auth/login.html", {"action": "/login", "next": next,
                                               "title": "Masuk — Kominfo / Komdigi"})


@router.post("/login")
async def platform_login(
    request: Request,
    session: PublicSessionDep,
    email: Annotated[str, Form(max_length=254)] = "",
    password: Annotated[str, Form(max_length=256)] = "",
    next: Annotated[str | None, Form()] = None,
):
    errors = {}
    if not email.strip():
        errors["email"] = "Email wajib diisi"
    if not password:
        errors["password"] = "Kata sandi wajib diisi"
    user = None
    if not errors:
        user = await authenticate_platform_user(session, email, password)
        if user is None:
            errors["password"] = "Email atau kata sandi salah"
    if errors:
        return render(request, "auth/login.html",
                      {"action": "/login", "errors": errors, "email": email, "next": next,
                       "title": "Masuk — Kominfo / Komdigi"}, status_code=401 if "email" not in errors else 422)
    _start_session(request, k="platform", u=user.id, v=user.session_version)
    return RedirectResponse(_safe_next(next, "/national") or "/national", status_code=303)


@router.post("/logout")
async def logout(request: Request):
    slug = request.session.get("s")
    request.session.clear()
    return RedirectResponse(f"/t/{slug}/login" if slug else "/login", status_code=303)
