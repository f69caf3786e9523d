"""Fixtures for the national dashboard: Kominfo clients and tenants in provinces of their own."""
from __future__ import annotations

import uuid

import httpx
import pytest

from tests.conftest import TEST_PASSWORD, csrf_of


@pytest.fixture(scope="session")
async def kominfo_user(db):
    from app.auth.models import PlatformUser
    from app.auth.passwords import hash_password

    async with db.public() as s:
        user = PlatformUser(email=f"kominfo-{uuid.uuid4().hex[:8]}@komdigi.uji.id", full_name="Analis Kominfo",
                            role="kominfo", password_hash=hash_password(TEST_PASSWORD), is_active=True,
                            session_version=1)
        s.add(user)
        await s.commit()
        return user


@pytest.fixture
async def kominfo_client(app, kominfo_user):
    async with httpx.AsyncClient(transport=httpx.ASGITransport(app=app), base_url="https://testserver") as c:
        token = await csrf_of(c, "/login")
        resp = await c.post("/login", data={"email": kominfo_user.email, "password": TEST_PASSWORD,
                                            "csrf_token": token})
        assert resp.status_code == 303, resp.text
        yield c


@pytest.fixture(scope="session")
async def regional_tenant(engine):
    """make(province, timezone, status) → a provisioned tenant registered in that province."""
    from app.tenancy.provision import NewTenant, provision_tenant
    from tests.conftest import TenantHandle

    counter = iter(range(1, 10_000))

    async def make(province: str, timezone: str = "WIB", status: str = "active") -> TenantHandle:
        n = next(counter)
        slug = f"nat{uuid.uuid4().hex[:6]}_{n}"
        code = f"N{uuid.uuid4().hex[:4]}"
        name = f"Kab. Nasional Uji {n}"
        tid = await provision_tenant(engine, NewTenant(slug, name, code, province, timezone, status))
        return TenantHandle(slug, name, code, tid)

    return make
