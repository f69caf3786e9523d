"""Fixtures for the security suite: admin clients of a tenant and of the platform."""

from __future__ import annotations

import uuid

import httpx
import pytest

from tests.conftest import TEST_PASSWORD, csrf_of, login


async def logged_in_client(app, tenant, user):
    c = httpx.AsyncClient(transport=httpx.ASGITransport(app=app), base_url="https://testserver")
    resp = await login(c, tenant.slug, user.email)
    assert resp.status_code == 303, resp.text
    c.user = user
    c.csrf = await csrf_of(c, f"/t/{tenant.slug}/login")
    return c


@pytest.fixture
async def admin_client(app, tenant_a, user_factory):
    user = await user_factory(tenant_a, "admin")
    c = await logged_in_client(app, tenant_a, user)
    yield c
    await c.aclose()


@pytest.fixture(scope="session")
async def platform_user_factory(db):
    from app.auth.models import PlatformUser
    from app.auth.passwords import hash_password

    hashed = hash_password(TEST_PASSWORD)

    async def make(role: str = "platform_admin"):
        async with db.public() as s:
            user = PlatformUser(
                email=f"{role}-{uuid.uuid4().hex[:8]}@komdigi.uji.id",
                full_name=f"{role} Uji",
                role=role,
                password_hash=hashed,
                is_active=True,
                session_version=1,
            )
            s.add(user)
            await s.commit()
            return user

    return make


async def platform_login(client, email: str, password: str = TEST_PASSWORD):
    token = await csrf_of(client, "/login")
    return await client.post("/login", data={"email": email, "password": password, "csrf_token": token})


@pytest.fixture
async def platform_admin_client(app, platform_user_factory):
    user = await platform_user_factory("platform_admin")
    c = httpx.AsyncClient(transport=httpx.ASGITransport(app=app), base_url="https://testserver")
    resp = await platform_login(c, user.email)
    assert resp.status_code == 303, resp.text
    c.user = user
    c.csrf = await csrf_of(c, "/login")
    yield c
    await c.aclose()
