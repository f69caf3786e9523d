"""Fixtures for onboarding: a Kominfo client, a tenant admin client, a real-looking PDF, a free regency."""

from __future__ import annotations

import random
import re
import uuid

import httpx
import pytest
from sqlalchemy import select

from tests.conftest import TEST_PASSWORD, csrf_of, login

# Regencies the demo and manifests use; signup tests never pick these.
RESERVED = {"13.72", "13.71", "16.06", "16.71", "14.71", "35.16"}
_used: set[str] = set()


def pdf_bytes(size: int = 2048) -> bytes:
    body = b"%PDF-1.4\n1 0 obj << /Type /Catalog >> endobj\n"
    return body + b"%" + b"x" * max(0, size - len(body) - 8) + b"\n%%EOF\n"


@pytest.fixture
async def free_region(db):
    """A Kemendagri code with no tenant yet (random, so reruns and parallel tests don't collide)."""
    from app.tenancy.models import Tenant
    from app.tenancy.regions import regencies

    async with db.public() as s:
        taken = set((await s.execute(select(Tenant.region_code))).scalars())
    pool = [c for c in regencies() if c not in taken | RESERVED | _used]
    code = random.choice(pool)
    _used.add(code)
    return code


def _client(app):
    return httpx.AsyncClient(transport=httpx.ASGITransport(app=app), base_url="https://testserver")


@pytest.fixture
async def kominfo_client(app, db):
    from app.auth.models import PlatformUser
    from app.auth.passwords import hash_password

    email = f"kominfo-{uuid.uuid4().hex[:8]}@komdigi.go.id"
    async with db.public() as s:
        s.add(
            PlatformUser(
                email=email,
                full_name="Verifikator Kominfo",
                role="kominfo",
                password_hash=hash_password(TEST_PASSWORD),
                is_active=True,
                session_version=1,
            )
        )
        await s.commit()
    async with _client(app) as c:
        token = await csrf_of(c, "/login")
        resp = await c.post("/login", data={"email": email, "password": TEST_PASSWORD, "csrf_token": token})
        assert resp.status_code == 303, resp.text
        c.csrf = token
        c.headers["x-csrf-token"] = token
        yield c


@pytest.fixture
async def admin_client(app, tenant_factory, user_factory):
    """A logged-in admin of a fresh tenant; .tenant and .user attached."""
    tenant = await tenant_factory(prefix="adm")
    user = await user_factory(tenant, "admin")
    async with _client(app) as c:
        assert (await login(c, tenant.slug, user.email)).status_code == 303
        c.csrf = await csrf_of(c, f"/t/{tenant.slug}/login")
        c.headers["x-csrf-token"] = c.csrf
        c.tenant, c.user = tenant, user
        yield c


def anon_client(app):
    return _client(app)


async def wizard_csrf(client) -> str:
    resp = await client.get("/signup", headers={"accept": "text/html"})
    m = re.search(r'name="csrf_token" value="([^"]+)"', resp.text)
    assert m, resp.text[:300]
    return m.group(1)


async def complete_signup(
    client, code: str, *, admin_email: str | None = None, pdf: bytes | None = None, submit: bool = True
) -> dict:
    """Walk the whole wizard with plain form posts (no htmx); returns what was entered."""
    from app.tenancy.regions import regency

    reg = regency(code)
    token = await wizard_csrf(client)
    h = {"x-csrf-token": token}
    admin_email = admin_email or f"admin-{uuid.uuid4().hex[:6]}@{reg.slug.replace('_', '')}.go.id"
    steps = [
        ("/signup/step/1", {"province_code": reg.province_code, "region_code": code}, None),
        (
            "/signup/step/2",
            {
                "contact_name": "Rina Kominfo",
                "contact_nip": "198501012010012001",
                "contact_email": "rina@kominfo.go.id",
                "contact_phone": "0812 3456 7890",
            },
            None,
        ),
        (
            "/signup/step/3",
            {"legal_number": "Perbup No. 12 Tahun 2024", "legal_date": "2024-03-01"},
            {"document": ("perbup.pdf", pdf or pdf_bytes(), "application/pdf")},
        ),
        (
            "/signup/step/4",
            {"opd_codes": ["kominfo", "bpbd", "damkar", "ambulans"], "custom_opds": "RSUD Kota\n"},
            None,
        ),
        (
            "/signup/step/5",
            {
                "admin_name": "Admin Satu",
                "admin_email": admin_email,
                "admin_password": "Siaga-112-aman",
                "admin_password2": "Siaga-112-aman",
            },
            None,
        ),
    ]
    for url, data, files in steps:
        resp = await client.post(url, data=data, files=files, headers=h)
        assert resp.status_code == 303, (url, resp.status_code, resp.text[:2000])
    if submit:
        resp = await client.post("/signup/submit", data={}, headers=h)
        assert resp.status_code == 303 and resp.headers["location"] == "/signup/done", resp.text[:2000]
    return {"regency": reg, "admin_email": admin_email, "admin_password": "Siaga-112-aman", "csrf": token}
