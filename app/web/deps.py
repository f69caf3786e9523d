"""FastAPI dependencies: the tenant a request is bound to, its session, and who is asking.

Routes read as ``async def f(tenant: TenantDep, session: TenantSessionDep, user: OperatorDep)``.
"""

from __future__ import annotations

import time
from collections.abc import AsyncIterator, Callable
from typing import Annotated

from fastapi import Depends, Request
from sqlalchemy import ARRAY, Integer, any_, bindparam, select
from sqlalchemy.ext.asyncio import AsyncSession

from app.auth.models import PlatformUser, User
from app.auth.tokens import resolve_platform_token, resolve_tenant_token
from app.batching import Batcher
from app.config import Settings
from app.core.principal import Principal
from app.db.database import Database
from app.db.direct import Direct
from app.tenancy.registry import TenantInfo, TenantRegistry
from app.web.errors import Forbidden, LoginRequired, NotFound


# Dependencies are async even when they do not await: FastAPI runs a plain ``def`` dependency in
# a thread pool, a thread hop per request on the intake hot path.
async def get_settings_dep(request: Request) -> Settings:
    return request.app.state.settings


async def get_db(request: Request) -> Database:
    return request.app.state.db


def get_registry(request: Request) -> TenantRegistry:
    return request.app.state.registry


SettingsDep = Annotated[Settings, Depends(get_settings_dep)]
DbDep = Annotated[Database, Depends(get_db)]


async def current_tenant(slug: str, request: Request) -> TenantInfo:
    tenant = await get_registry(request).get(slug)
    if tenant is None:
        raise NotFound("Kabupaten/kota tidak terdaftar")
    if tenant.status == "suspended":
        raise Forbidden("Layanan 112 kabupaten/kota ini sedang dinonaktifkan (suspended)")
    request.state.tenant = tenant
    return tenant


TenantDep = Annotated[TenantInfo, Depends(current_tenant)]


async def tenant_session(request: Request, tenant: TenantDep) -> AsyncIterator[AsyncSession]:
    # The database straight from app state, not through DbDep: every tenant request resolves this,
    # and each nested dependency costs FastAPI a solve step.
    async with request.app.state.db.tenant(tenant.slug) as session:
        yield session


TenantSessionDep = Annotated[AsyncSession, Depends(tenant_session)]


async def public_session(db: DbDep) -> AsyncIterator[AsyncSession]:
    async with db.public() as session:
        yield session


PublicSessionDep = Annotated[AsyncSession, Depends(public_session)]


def session_expired(request: Request) -> bool:
    """Absolute lifetime from login: a stolen cookie stops working even if kept fresh by use."""
    started = request.session.get("t")
    max_age = request.app.state.settings.session_max_age_s
    return not isinstance(started, int) or time.time() - started > max_age


def tenant_login_url(slug: str) -> str:
    return f"/t/{slug}/login"


def _check_session_user(request: Request, tenant: TenantInfo, user) -> None:
    """The cookie names a live, current user of THIS tenant (a session of another tenant, a
    deactivated user, a bumped session version or an expired session count as not logged in)."""
    if (
        user is None
        or not user.is_active
        or user.session_version != request.session.get("v")
        or session_expired(request)
    ):
        request.session.clear()
        raise LoginRequired(tenant_login_url(tenant.slug))
    request.state.principal = Principal(
        kind="tenant",
        user_id=user.id,
        role=user.role,
        name=user.full_name,
        email=user.email,
        tenant_slug=tenant.slug,
        opd_id=user.opd_id,
    )


def _session_user_id(request: Request, tenant: TenantInfo) -> int:
    data = request.session
    if data.get("k") != "tenant" or data.get("s") != tenant.slug or not data.get("u"):
        raise LoginRequired(tenant_login_url(tenant.slug))
    return data["u"]


async def current_tenant_user(request: Request, tenant: TenantDep, session: TenantSessionDep) -> User:
    """The logged-in user of THIS tenant, as an ORM object (pages edit and render it)."""
    user = await session.get(User, _session_user_id(request, tenant))
    _check_session_user(request, tenant, user)
    assert user is not None  # _check_session_user refused a missing user
    return user


# The JSON API needs only who is asking: Core rows (no identity map, no ORM loading), built once.
_PRINCIPAL_COLUMNS = Direct(
    select(
        User.id, User.role, User.full_name, User.email, User.opd_id, User.is_active, User.session_version
    ).where(User.id == any_(bindparam("ids", type_=ARRAY(Integer))))
)


def session_user_loader(db: Database) -> Batcher:
    """``await loader.submit(slug, user_id)`` → the user's row or None. Concurrent API requests of
    one tenant share one autocommit SELECT (``Database.read``: one round trip, no transaction, no
    Session): on the intake path this lookup is the only database work a request does on its own
    (app.batching)."""

    async def load(slug: str, user_ids: list[int]) -> list:
        rows = {r.id: r for r in await db.read(slug, _PRINCIPAL_COLUMNS, {"ids": sorted(set(user_ids))})}
        return [rows.get(uid) for uid in user_ids]

    return Batcher(load)


async def session_principal(request: Request, tenant: TenantInfo) -> Principal:
    uid = _session_user_id(request, tenant)
    row = await request.app.state.session_users.submit(tenant.slug, uid)
    _check_session_user(request, tenant, row)
    return request.state.principal


TenantUserDep = Annotated[User, Depends(current_tenant_user)]


def tenant_roles(*roles: str) -> Callable:
    async def dep(user: TenantUserDep) -> User:
        if user.role not in roles:
            raise Forbidden()
        return user

    return dep


OperatorDep = Annotated[User, Depends(tenant_roles("operator", "supervisor", "admin"))]
SupervisorDep = Annotated[User, Depends(tenant_roles("supervisor", "admin"))]
AdminDep = Annotated[User, Depends(tenant_roles("admin"))]
OpdStaffDep = Annotated[User, Depends(tenant_roles("opd_staff"))]


async def current_platform_user(request: Request, session: PublicSessionDep) -> PlatformUser:
    data = request.session
    if data.get("k") != "platform" or not data.get("u"):
        raise LoginRequired("/login")
    user = await session.get(PlatformUser, data["u"])
    if (
        user is None
        or not user.is_active
        or user.session_version != data.get("v")
        or session_expired(request)
    ):
        request.session.clear()
        raise LoginRequired("/login")
    request.state.principal = Principal(
        kind="platform",
        user_id=user.id,
        role=user.role,
        name=user.full_name,
        email=user.email,
    )
    return user


PlatformUserDep = Annotated[PlatformUser, Depends(current_platform_user)]


def platform_roles(*roles: str) -> Callable:
    async def dep(user: PlatformUserDep) -> PlatformUser:
        if user.role not in roles:
            raise Forbidden()
        return user

    return dep


KominfoDep = Annotated[PlatformUser, Depends(platform_roles("kominfo", "platform_admin"))]
PlatformAdminDep = Annotated[PlatformUser, Depends(platform_roles("platform_admin"))]


# --- JSON API: a principal from a cookie session OR a bearer API token -------------------------


def _bearer(request: Request) -> str | None:
    auth = request.headers.get("authorization", "")
    return auth[7:].strip() if auth.lower().startswith("bearer ") else None


async def api_tenant_principal(request: Request, tenant: TenantDep) -> Principal:
    """No request session here: a cookie needs only the (batched) user lookup, and a token gets a
    session of its own, so the intake path builds no session it does not use."""
    token = _bearer(request)
    if token is not None:
        async with request.app.state.db.tenant(tenant.slug) as session:
            principal = await resolve_tenant_token(request, tenant.slug, session, token)
        if principal is None:
            raise LoginRequired(tenant_login_url(tenant.slug))
        request.state.principal = principal
        return principal
    return await session_principal(request, tenant)


ApiPrincipalDep = Annotated[Principal, Depends(api_tenant_principal)]


def _authorize(principal: Principal, roles: tuple[str, ...], scope: str | None) -> Principal:
    """People are checked by role; tokens by scope AND, for a personal token, by its owner's
    current role (a token never does more than its owner's session could). A service token has
    no person behind it: its scopes (and its OPD binding, applied by the services) are its limit."""
    if principal.kind == "token":
        if scope is None or scope not in principal.scopes:
            raise Forbidden("Token tidak memiliki izin untuk tindakan ini (missing scope)")
        if principal.token_kind == "personal" and principal.role not in roles:
            raise Forbidden("Pemilik token tidak berwenang untuk tindakan ini (owner's role)")
        if principal.token_kind == "service" and principal.opd_id is not None and "opd_staff" not in roles:
            # Bound to one agency: only what that agency's own staff may do.
            raise Forbidden("Token OPD tidak berwenang untuk tindakan ini (agency-bound token)")
    elif principal.role not in roles:
        raise Forbidden()
    return principal


def api_tenant_access(*roles: str, scope: str | None = None) -> Callable:
    """A user with one of ``roles``, or a token carrying ``scope``. Calls api_tenant_principal
    itself rather than through Depends: one dependency level less on every API request."""

    async def dep(request: Request, tenant: TenantDep) -> Principal:
        return _authorize(await api_tenant_principal(request, tenant), roles, scope)

    return dep


async def api_platform_principal(request: Request, session: PublicSessionDep) -> Principal:
    token = _bearer(request)
    if token is not None:
        principal = await resolve_platform_token(request, session, token)
        if principal is None:
            raise LoginRequired("/login")
        request.state.principal = principal
        return principal
    await current_platform_user(request, session)
    return request.state.principal


def api_platform_access(*roles: str, scope: str | None = None) -> Callable:
    async def dep(principal: Annotated[Principal, Depends(api_platform_principal)]) -> Principal:
        return _authorize(principal, roles, scope)

    return dep
