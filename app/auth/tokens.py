"""API tokens: bearer tokens for integrators (telephony) and Kominfo's tools.

Format ``s112_<lookup>_<secret>``: ``lookup`` finds the row by index, only SHA-256(token) is
stored and compared in constant time. A tenant token lives in its tenant's schema, so it cannot
resolve on another tenant at all. ``last_used_at`` is written at most once a minute per token.
"""

from __future__ import annotations

import hashlib
import hmac
import secrets
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta

from fastapi import Request
from sqlalchemy import select, update
from sqlalchemy.ext.asyncio import AsyncSession

from app.auth.models import PlatformUser, User
from app.core.principal import Principal
from app.db import uow
from app.security.models import ApiToken, PlatformApiToken
from app.security.proxies import client_address

PREFIX = "s112_"
TOUCH_EVERY = timedelta(minutes=1)


@dataclass(frozen=True)
class NewToken:
    lookup: str
    token_hash: str
    plain: str  # shown once, never stored


def generate_token() -> NewToken:
    lookup = secrets.token_hex(6)
    plain = f"{PREFIX}{lookup}_{secrets.token_urlsafe(32)}"
    return NewToken(lookup, hash_token(plain), plain)


def hash_token(plain: str) -> str:
    return hashlib.sha256(plain.encode()).hexdigest()


def _lookup_of(token: str) -> str | None:
    if not token.startswith(PREFIX) or len(token) > 200:
        return None
    lookup, sep, secret = token[len(PREFIX) :].partition("_")
    if not sep or len(lookup) != 12 or not secret:
        return None
    return lookup


async def _resolve(request: Request, session: AsyncSession, model, token: str):
    lookup = _lookup_of(token)
    if lookup is None:
        return None
    row = (await session.execute(select(model).where(model.lookup == lookup))).scalar_one_or_none()
    if row is None or not hmac.compare_digest(row.token_hash, hash_token(token)):
        return None
    now = datetime.now(UTC)
    if row.revoked_at is not None or (row.expires_at is not None and row.expires_at <= now):
        return None
    if row.last_used_at is None or now - row.last_used_at >= TOUCH_EVERY:
        ip = client_address(request)
        await session.execute(
            update(model).where(model.id == row.id).values(last_used_at=now, last_used_ip=ip)
        )
        await uow.commit(session)
    return row


async def _owner(session: AsyncSession, user_model, user_id: int | None):
    """A personal token's owner as of now; None when missing or deactivated (token refused)."""
    if user_id is None:
        return None
    user = await session.get(user_model, user_id)
    return user if user is not None and user.is_active else None


async def resolve_tenant_token(
    request: Request, tenant_slug: str, session: AsyncSession, token: str
) -> Principal | None:
    """A token's principal. Personal: the owner's current role and OPD (checked with the scopes
    in app.web.deps._authorize). Service: role "service" and the token's own OPD binding."""
    row = await _resolve(request, session, ApiToken, token)
    if row is None:
        return None
    role, opd_id = "service", row.opd_id
    if row.kind == "personal":
        owner = await _owner(session, User, row.user_id)
        if owner is None:
            return None
        role, opd_id = owner.role, owner.opd_id
    return Principal(
        kind="token",
        user_id=row.user_id,
        role=role,
        name=row.name,
        tenant_slug=tenant_slug,
        opd_id=opd_id,
        scopes=frozenset(row.scopes),
        token_kind=row.kind,
    )


async def resolve_platform_token(request: Request, session: AsyncSession, token: str) -> Principal | None:
    row = await _resolve(request, session, PlatformApiToken, token)
    if row is None:
        return None
    role = "service"
    if row.kind == "personal":
        owner = await _owner(session, PlatformUser, row.user_id)
        if owner is None:
            return None
        role = owner.role
    return Principal(
        kind="token",
        user_id=row.user_id,
        role=role,
        name=row.name,
        scopes=frozenset(row.scopes),
        token_kind=row.kind,
    )
