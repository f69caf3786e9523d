"""Authenticating people against the tenant's or the ministry's user table."""

from __future__ import annotations

from datetime import UTC, datetime

from sqlalchemy import func, select
from sqlalchemy.ext.asyncio import AsyncSession

from app.auth.models import PlatformUser, User
from app.auth.passwords import hash_password, needs_rehash, verify_password
from app.db import uow


async def authenticate_tenant_user(session: AsyncSession, email: str, password: str) -> User | None:
    user = (
        await session.execute(select(User).where(func.lower(User.email) == email.strip().lower()))
    ).scalar_one_or_none()
    ok = verify_password(user.password_hash if user else None, password)
    if not ok or user is None or not user.is_active:
        return None
    await _touch(session, user, password)
    return user


async def authenticate_platform_user(session: AsyncSession, email: str, password: str) -> PlatformUser | None:
    user = (
        await session.execute(
            select(PlatformUser).where(func.lower(PlatformUser.email) == email.strip().lower())
        )
    ).scalar_one_or_none()
    ok = verify_password(user.password_hash if user else None, password)
    if not ok or user is None or not user.is_active:
        return None
    await _touch(session, user, password)
    return user


async def _touch(session: AsyncSession, user, password: str) -> None:
    user.last_login_at = datetime.now(UTC)
    if user.password_hash and needs_rehash(user.password_hash):
        user.password_hash = hash_password(password)
    await uow.commit(session)
