"""Admin pages for API tokens (tenant and platform); SSO settings and audit search live beside them."""

from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, Depends, Form, Request
from fastapi.responses import RedirectResponse
from sqlalchemy import select

from app.auth.models import PlatformUser, User
from app.bounds import INT4_MAX, ascii_int
from app.dispatch.models import Opd
from app.security.models import ApiToken, PlatformApiToken
from app.security.proxies import origin_of
from app.security.service import SCOPES_FOR, create_token, list_tokens, revoke_token, token_form_problems
from app.web.csrf import verify_csrf
from app.web.deps import AdminDep, PlatformAdminDep, PublicSessionDep, TenantDep, TenantSessionDep
from app.web.errors import NotFound
from app.web.params import PathId
from app.web.templating import render

router = APIRouter(dependencies=[Depends(verify_csrf)], tags=["security (HTML)"])


async def _active_opds(session) -> list[Opd]:
    return list((await session.execute(select(Opd).where(Opd.is_active).order_by(Opd.name))).scalars())


async def _tokens_page(
    request, session, model, user_model, base: str, *, errors=None, form=None, created=None, status_code=200
):
    users = (
        (await session.execute(select(user_model).where(user_model.is_active).order_by(user_model.full_name)))
        .scalars()
        .all()
    )
    return render(
        request,
        "security/tokens.html",
        {
            "title": "Token API",
            "base": base,
            "tokens": await list_tokens(session, model),
            "users": users,
            "scopes": SCOPES_FOR[model],
            "errors": errors or {},
            "form": form or {"kind": "service", "scopes": []},
            "created": created,
            "user_names": {u.id: u.full_name for u in users},
            # Only a regency's service tokens can be bound to one of its agencies.
            "opds": await _active_opds(session) if model is ApiToken else [],
        },
        status_code=status_code,
    )


async def _create_token(
    request,
    session,
    admin,
    model,
    user_model,
    base: str,
    *,
    name: str,
    kind: str,
    user_id: str,
    expires_days: str,
    scopes: list[str],
    opd_id: str = "",
):
    """The token form's post, for a regency's (ApiToken/User) or the ministry's tokens."""
    uid = ascii_int(user_id)
    oid = ascii_int(opd_id)
    errors = token_form_problems(name, kind, scopes, SCOPES_FOR[model], uid, expires_days)
    if uid is not None and kind == "personal" and "user_id" not in errors:
        owner = await session.get(user_model, uid) if uid <= INT4_MAX else None
        if owner is None or not owner.is_active:
            errors["user_id"] = "Pengguna tidak ditemukan"
    if opd_id.strip():
        if kind != "service":
            errors["opd_id"] = "Hanya token layanan yang diikat ke OPD (token pribadi mengikuti pemiliknya)"
        elif oid is None or oid not in {o.id for o in await _active_opds(session)}:
            errors["opd_id"] = "OPD tidak ditemukan atau tidak aktif"
    if errors:
        form = {
            "name": name,
            "kind": kind,
            "user_id": uid,
            "opd_id": oid,
            "expires_days": expires_days,
            "scopes": scopes,
        }
        return await _tokens_page(
            request, session, model, user_model, base, errors=errors, form=form, status_code=422
        )
    row, plain = await create_token(
        session,
        origin_of(request),
        admin,
        model,
        name=name,
        kind=kind,
        scopes=scopes,
        user_id=uid,
        expires_days=expires_days,
        opd_id=oid,
    )
    return await _tokens_page(
        request, session, model, user_model, base, created={"name": row.name, "plain": plain}, status_code=201
    )


@router.get("/t/{slug}/admin/tokens")
async def tenant_tokens(request: Request, tenant: TenantDep, session: TenantSessionDep, admin: AdminDep):
    return await _tokens_page(request, session, ApiToken, User, f"/t/{tenant.slug}/admin/tokens")


@router.post("/t/{slug}/admin/tokens")
async def tenant_token_create(
    request: Request,
    tenant: TenantDep,
    session: TenantSessionDep,
    admin: AdminDep,
    name: Annotated[str, Form(max_length=200)] = "",
    kind: Annotated[str, Form(max_length=16)] = "service",
    user_id: Annotated[str, Form(max_length=12)] = "",
    expires_days: Annotated[str, Form(max_length=6)] = "",
    scopes: Annotated[list[str] | None, Form()] = None,
    opd_id: Annotated[str, Form(max_length=12)] = "",
):
    return await _create_token(
        request,
        session,
        admin,
        ApiToken,
        User,
        f"/t/{tenant.slug}/admin/tokens",
        name=name,
        kind=kind,
        user_id=user_id,
        expires_days=expires_days,
        scopes=scopes or [],
        opd_id=opd_id,
    )


@router.post("/t/{slug}/admin/tokens/{token_id}/revoke")
async def tenant_token_revoke(
    request: Request, tenant: TenantDep, session: TenantSessionDep, admin: AdminDep, token_id: PathId
):
    if not await revoke_token(session, origin_of(request), admin, ApiToken, token_id):
        raise NotFound("Token tidak ditemukan")
    return RedirectResponse(f"/t/{tenant.slug}/admin/tokens", status_code=303)


@router.get("/platform/tokens")
async def platform_tokens(request: Request, session: PublicSessionDep, admin: PlatformAdminDep):
    return await _tokens_page(request, session, PlatformApiToken, PlatformUser, "/platform/tokens")


@router.post("/platform/tokens")
async def platform_token_create(
    request: Request,
    session: PublicSessionDep,
    admin: PlatformAdminDep,
    name: Annotated[str, Form(max_length=200)] = "",
    kind: Annotated[str, Form(max_length=16)] = "service",
    user_id: Annotated[str, Form(max_length=12)] = "",
    expires_days: Annotated[str, Form(max_length=6)] = "",
    scopes: Annotated[list[str] | None, Form()] = None,
):
    return await _create_token(
        request,
        session,
        admin,
        PlatformApiToken,
        PlatformUser,
        "/platform/tokens",
        name=name,
        kind=kind,
        user_id=user_id,
        expires_days=expires_days,
        scopes=scopes or [],
    )


@router.post("/platform/tokens/{token_id}/revoke")
async def platform_token_revoke(
    request: Request, session: PublicSessionDep, admin: PlatformAdminDep, token_id: PathId
):
    if not await revoke_token(session, origin_of(request), admin, PlatformApiToken, token_id):
        raise NotFound("Token tidak ditemukan")
    return RedirectResponse("/platform/tokens", status_code=303)


from app.security.sso_views import router as _sso_router  # noqa: E402

router.include_router(_sso_router)

from app.security.audit_views import router as _audit_router  # noqa: E402

router.include_router(_audit_router)

from app.security.profile_views import router as _profile_router  # noqa: E402

router.include_router(_profile_router)
