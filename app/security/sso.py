"""Stored SSO settings (tenant and national), secret encryption, and login/logout audit helpers."""

from __future__ import annotations

import base64
import hashlib
from typing import Any
from urllib.parse import urlparse

from cryptography.fernet import Fernet, InvalidToken
from fastapi import Request
from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession

from app.audit.service import record, record_platform
from app.db import uow
from app.security.models import OidcProvider, PlatformOidcProvider
from app.security.proxies import origin_of

_LOOPBACK = {"127.0.0.1", "localhost", "::1"}


def _fernet(secret_key: str) -> Fernet:
    return Fernet(base64.urlsafe_b64encode(hashlib.sha256(b"siaga112-oidc:" + secret_key.encode()).digest()))


def encrypt_secret(secret_key: str, value: str) -> str:
    return _fernet(secret_key).encrypt(value.encode()).decode()


def decrypt_secret(secret_key: str, value: str) -> str | None:
    """None when SECRET_KEY changed since the secret was saved (the admin must enter it again)."""
    try:
        return _fernet(secret_key).decrypt(value.encode()).decode()
    except (InvalidToken, ValueError):
        return None


async def load_provider(session: AsyncSession, model) -> Any:
    return (await session.execute(select(model).order_by(model.id).limit(1))).scalar_one_or_none()


async def tenant_sso_url(session: AsyncSession, slug: str) -> str | None:
    provider = await load_provider(session, OidcProvider)
    return f"/t/{slug}/sso/login" if provider is not None and provider.enabled else None


async def platform_sso_url(session: AsyncSession) -> str | None:
    provider = await load_provider(session, PlatformOidcProvider)
    return "/login/sso" if provider is not None and provider.enabled else None


def issuer_problem(issuer: str, environment: str) -> str | None:
    parsed = urlparse(issuer.strip())
    if not parsed.scheme or not parsed.netloc or parsed.query or parsed.fragment:
        return "Issuer harus berupa URL lengkap, mis. https://sso.contoh.go.id/realms/112"
    if parsed.scheme != "https" and not (environment != "production" and parsed.hostname in _LOOPBACK):
        return "Issuer harus memakai https://"
    return None


async def audit_logout(request: Request) -> None:
    """Record who logged out; a vanished tenant or user just means nothing to record."""
    data = request.session
    db = request.app.state.db
    if data.get("k") == "tenant" and data.get("s") and data.get("u"):
        tenant = await request.app.state.registry.get(data["s"])
        if tenant is None:
            return
        async with db.tenant(tenant.slug) as session:
            await record(
                session,
                "logout",
                actor_id=data["u"],
                origin=origin_of(request),
                entity="user",
                entity_id=data["u"],
            )
            await uow.commit(session)
    elif data.get("k") == "platform" and data.get("u"):
        async with db.public() as session:
            await record_platform(
                session,
                "logout",
                actor_id=data["u"],
                origin=origin_of(request),
                entity="platform_user",
                entity_id=data["u"],
            )
            await uow.commit(session)
