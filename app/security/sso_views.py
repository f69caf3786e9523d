"""SSO: admin settings pages and the OIDC login round trip, for a tenant and for the ministry.

The callback only maps the provider's verified email to an EXISTING active account of the same
tenant (or of the ministry); nobody is created automatically.
"""

from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, Depends, Form, Request
from fastapi.responses import RedirectResponse
from sqlalchemy import func, select

from app.audit.service import record, record_platform, snapshot
from app.auth import oidc
from app.auth.login import ROLE_HOME, safe_next, start_session
from app.auth.models import PlatformUser, User
from app.db import uow
from app.security.models import OidcProvider, PlatformOidcProvider
from app.security.proxies import origin_of
from app.security.sso import decrypt_secret, encrypt_secret, issuer_problem, load_provider
from app.web.csrf import verify_csrf
from app.web.deps import AdminDep, PlatformAdminDep, PublicSessionDep, TenantDep, TenantSessionDep
from app.web.templating import render

router = APIRouter(dependencies=[Depends(verify_csrf)], tags=["sso (HTML)"])


# --- settings ---------------------------------------------------------------------------------


def _settings_page(request, provider, base, *, errors=None, form=None, saved=False, status_code=200):
    form = form or (
        {
            "issuer": provider.issuer,
            "client_id": provider.client_id,
            "label": provider.label,
            "enabled": provider.enabled,
        }
        if provider
        else {"label": "SSO", "enabled": True}
    )
    return render(
        request,
        "security/sso.html",
        {
            "title": "Single Sign-On (OpenID Connect)",
            "base": base,
            "provider": provider,
            "form": form,
            "errors": errors or {},
            "saved": saved,
            "redirect_uri": str(request.base_url).rstrip("/")
            + (
                base.replace("/admin/sso", "/sso/callback")
                if base != "/platform/sso"
                else "/login/sso/callback"
            ),
        },
        status_code=status_code,
    )


async def _save(request, session, model, actor, base, issuer, client_id, client_secret, label, enabled):
    settings = request.app.state.settings
    provider = await load_provider(session, model)
    form = {"issuer": issuer, "client_id": client_id, "label": label, "enabled": enabled}
    errors = {}
    if problem := issuer_problem(issuer, settings.environment):
        errors["issuer"] = problem
    if not client_id.strip():
        errors["client_id"] = "Client ID wajib diisi"
    if not client_secret and provider is None:
        errors["client_secret"] = "Client secret wajib diisi"
    if not label.strip():
        errors["label"] = "Label wajib diisi"
    if not errors:
        try:
            await oidc.discover(issuer.strip(), fresh=True)
        except oidc.OidcError as exc:
            errors["issuer"] = str(exc)
    if errors:
        return _settings_page(request, provider, base, errors=errors, form=form, status_code=422)
    before = snapshot(provider) if provider else None
    if provider is None:
        provider = model()
        session.add(provider)
    provider.issuer = issuer.strip().rstrip("/")
    provider.client_id = client_id.strip()
    provider.label = label.strip()
    provider.enabled = enabled
    provider.updated_by = actor.id
    if client_secret:
        provider.client_secret_enc = encrypt_secret(settings.secret_key, client_secret)
    await session.flush()
    audit = record if model is OidcProvider else record_platform
    await audit(
        session,
        "sso.configure",
        actor_id=actor.id,
        actor_label=actor.email,
        origin=origin_of(request),
        entity="oidc_provider",
        entity_id=provider.id,
        before=before,
        after={**snapshot(provider), "secret_changed": bool(client_secret)},
    )
    await uow.commit(session)
    return _settings_page(request, provider, base, saved=True)


@router.get("/t/{slug}/admin/sso")
async def tenant_sso_settings(
    request: Request, tenant: TenantDep, session: TenantSessionDep, admin: AdminDep
):
    return _settings_page(request, await load_provider(session, OidcProvider), f"/t/{tenant.slug}/admin/sso")


@router.post("/t/{slug}/admin/sso")
async def tenant_sso_save(
    request: Request,
    tenant: TenantDep,
    session: TenantSessionDep,
    admin: AdminDep,
    issuer: Annotated[str, Form(max_length=300)] = "",
    client_id: Annotated[str, Form(max_length=200)] = "",
    client_secret: Annotated[str, Form(max_length=500)] = "",
    label: Annotated[str, Form(max_length=80)] = "SSO",
    enabled: Annotated[bool, Form()] = False,
):
    return await _save(
        request,
        session,
        OidcProvider,
        admin,
        f"/t/{tenant.slug}/admin/sso",
        issuer,
        client_id,
        client_secret,
        label,
        enabled,
    )


@router.get("/platform/sso")
async def platform_sso_settings(request: Request, session: PublicSessionDep, admin: PlatformAdminDep):
    return _settings_page(request, await load_provider(session, PlatformOidcProvider), "/platform/sso")


@router.post("/platform/sso")
async def platform_sso_save(
    request: Request,
    session: PublicSessionDep,
    admin: PlatformAdminDep,
    issuer: Annotated[str, Form(max_length=300)] = "",
    client_id: Annotated[str, Form(max_length=200)] = "",
    client_secret: Annotated[str, Form(max_length=500)] = "",
    label: Annotated[str, Form(max_length=80)] = "SSO",
    enabled: Annotated[bool, Form()] = False,
):
    return await _save(
        request,
        session,
        PlatformOidcProvider,
        admin,
        "/platform/sso",
        issuer,
        client_id,
        client_secret,
        label,
        enabled,
    )


# --- login round trip -------------------------------------------------------------------------


def _login_error(request, action, title, message, status_code):
    return render(
        request,
        "auth/login.html",
        {"action": action, "title": title, "sso_error": message, "errors": {}},
        status_code=status_code,
    )


async def _begin(
    request: Request, provider, scope: str, callback: str, next_url: str | None, action: str, title: str
):
    if provider is None or not provider.enabled:
        return _login_error(request, action, title, "SSO belum diaktifkan", 404)
    try:
        flow = await oidc.start(
            provider.issuer, provider.client_id, str(request.base_url).rstrip("/") + callback
        )
    except oidc.OidcError as exc:
        return _login_error(request, action, title, str(exc), 502)
    request.session["oidc"] = {
        "scope": scope,
        "state": flow.state,
        "nonce": flow.nonce,
        "cv": flow.code_verifier,
        "next": next_url,
    }
    return RedirectResponse(flow.url, status_code=303)


class _Refused(str):
    """An error message whose status is 403 (no login of this browser in progress: forged callback)."""


async def _complete(
    request: Request,
    provider,
    scope: str,
    callback: str,
    code: str | None,
    state: str | None,
    error: str | None,
) -> dict | str:
    """Verified claims, or an error message for the login page."""
    pending = request.session.pop("oidc", None)
    if (
        not pending
        or pending.get("scope") != scope
        or not state
        or not isinstance(pending.get("state"), str)
        or pending["state"] != state
    ):
        return _Refused("Sesi SSO tidak sah atau kedaluwarsa. Silakan ulangi.")
    if error or not code:
        return f"Penyedia SSO menolak masuk ({(error or 'tanpa kode')[:60]})"
    if provider is None or not provider.enabled:
        return "SSO belum diaktifkan"
    secret = decrypt_secret(request.app.state.settings.secret_key, provider.client_secret_enc)
    if secret is None:
        return "Konfigurasi SSO perlu disimpan ulang oleh admin (client secret tidak terbaca)"
    try:
        claims = await oidc.finish(
            provider.issuer,
            provider.client_id,
            secret,
            str(request.base_url).rstrip("/") + callback,
            code=code,
            code_verifier=pending["cv"],
            nonce=pending["nonce"],
        )
    except oidc.OidcError as exc:
        return str(exc)
    claims["_next"] = pending.get("next")
    return claims


@router.get("/t/{slug}/sso/login")
async def tenant_sso_login(
    request: Request, tenant: TenantDep, session: TenantSessionDep, next: str | None = None
):
    return await _begin(
        request,
        await load_provider(session, OidcProvider),
        tenant.slug,
        f"/t/{tenant.slug}/sso/callback",
        next,
        f"/t/{tenant.slug}/login",
        f"Masuk — 112 {tenant.name}",
    )


@router.get("/t/{slug}/sso/callback")
async def tenant_sso_callback(
    request: Request,
    tenant: TenantDep,
    session: TenantSessionDep,
    code: str | None = None,
    state: str | None = None,
    error: str | None = None,
):
    action, title = f"/t/{tenant.slug}/login", f"Masuk — 112 {tenant.name}"
    result = await _complete(
        request,
        await load_provider(session, OidcProvider),
        tenant.slug,
        f"/t/{tenant.slug}/sso/callback",
        code,
        state,
        error,
    )
    if isinstance(result, str):
        return _login_error(request, action, title, result, 403 if isinstance(result, _Refused) else 400)
    email = oidc.verified_email(result)
    user = None
    if email:
        user = (
            await session.execute(select(User).where(func.lower(User.email) == email))
        ).scalar_one_or_none()
    if user is None or not user.is_active:
        await record(
            session,
            "login.failure",
            actor_label=(email or result.get("sub", "?"))[:254],
            origin=origin_of(request),
            entity="user",
            after={"method": "sso", "reason": "no active account" if email else "email not verified"},
        )
        await uow.commit(session)
        return _login_error(
            request,
            action,
            title,
            f"Akun SSO ini tidak terdaftar atau tidak aktif di 112 {tenant.name}. Hubungi admin.",
            403,
        )
    await record(
        session,
        "login.success",
        actor_id=user.id,
        actor_label=user.email,
        origin=origin_of(request),
        entity="user",
        entity_id=user.id,
        after={"method": "sso", "sub": str(result.get("sub"))[:100]},
    )
    await uow.commit(session)
    start_session(request, k="tenant", s=tenant.slug, u=user.id, v=user.session_version)
    target = safe_next(result["_next"], f"/t/{tenant.slug}/") or ROLE_HOME[user.role].format(slug=tenant.slug)
    return RedirectResponse(target, status_code=303)


@router.get("/login/sso")
async def platform_sso_login(request: Request, session: PublicSessionDep, next: str | None = None):
    return await _begin(
        request,
        await load_provider(session, PlatformOidcProvider),
        "platform",
        "/login/sso/callback",
        next,
        "/login",
        "Masuk — Kominfo / Komdigi",
    )


@router.get("/login/sso/callback")
async def platform_sso_callback(
    request: Request,
    session: PublicSessionDep,
    code: str | None = None,
    state: str | None = None,
    error: str | None = None,
):
    result = await _complete(
        request,
        await load_provider(session, PlatformOidcProvider),
        "platform",
        "/login/sso/callback",
        code,
        state,
        error,
    )
    if isinstance(result, str):
        return _login_error(
            request,
            "/login",
            "Masuk — Kominfo / Komdigi",
            result,
            403 if isinstance(result, _Refused) else 400,
        )
    email = oidc.verified_email(result)
    user = None
    if email:
        user = (
            await session.execute(select(PlatformUser).where(func.lower(PlatformUser.email) == email))
        ).scalar_one_or_none()
    if user is None or not user.is_active:
        await record_platform(
            session,
            "login.failure",
            actor_label=(email or result.get("sub", "?"))[:254],
            origin=origin_of(request),
            entity="platform_user",
            after={"method": "sso", "reason": "no active account" if email else "email not verified"},
        )
        await uow.commit(session)
        return _login_error(
            request,
            "/login",
            "Masuk — Kominfo / Komdigi",
            "Akun SSO ini tidak terdaftar sebagai pengguna Kominfo/Komdigi.",
            403,
        )
    await record_platform(
        session,
        "login.success",
        actor_id=user.id,
        actor_label=user.email,
        origin=origin_of(request),
        entity="platform_user",
        entity_id=user.id,
        after={"method": "sso"},
    )
    await uow.commit(session)
    start_session(request, k="platform", u=user.id, v=user.session_version)
    return RedirectResponse(safe_next(result["_next"], "/national") or "/national", status_code=303)
