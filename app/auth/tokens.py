"""API tokens (issue 8 builds them here): bearer tokens for integrators and Kominfo's tools.

``resolve_tenant_token`` / ``resolve_platform_token`` turn a presented bearer token into a
Principal (kind="token", with scopes) or None. Until tokens exist every token is refused.
"""
from __future__ import annotations

from fastapi import Request
from sqlalchemy.ext.asyncio import AsyncSession

from app.auth.principal import Principal


async def resolve_tenant_token(request: Request, tenant_slug: str, session: AsyncSession, token: str) -> Principal | None:
    return None


async def resolve_platform_token(request: Request, session: AsyncSession, token: str) -> Principal | None:
    return None
