"""Fixtures for the national dashboard: Kominfo clients and tenants in provinces of their own."""

from __future__ import annotations

import uuid
from datetime import UTC, datetime, timedelta

import httpx
import pytest
from sqlalchemy import select

from tests.conftest import TEST_PASSWORD, csrf_of


@pytest.fixture(autouse=True)
def fresh_figures(monkeypatch):
    """These tests change rollup rows between requests and expect to see it at once: no cache
    (test_cache_* turn it back on explicitly)."""
    from app.national import service

    service.clear_cache()
    monkeypatch.setattr(service, "CACHE_TTL_S", 0)
    yield
    service.clear_cache()


@pytest.fixture(scope="session")
async def kominfo_user(db):
    from app.auth.models import PlatformUser
    from app.auth.passwords import hash_password

    async with db.public() as s:
        user = PlatformUser(
            email=f"kominfo-{uuid.uuid4().hex[:8]}@komdigi.uji.id",
            full_name="Analis Kominfo",
            role="kominfo",
            password_hash=hash_password(TEST_PASSWORD),
            is_active=True,
            session_version=1,
        )
        s.add(user)
        await s.commit()
        return user


@pytest.fixture
async def kominfo_client(app, kominfo_user):
    async with httpx.AsyncClient(transport=httpx.ASGITransport(app=app), base_url="https://testserver") as c:
        token = await csrf_of(c, "/login")
        resp = await c.post(
            "/login", data={"email": kominfo_user.email, "password": TEST_PASSWORD, "csrf_token": token}
        )
        assert resp.status_code == 303, resp.text
        yield c


@pytest.fixture(scope="session")
async def regional_tenant(engine):
    """make(province, timezone, status) → a provisioned tenant registered in that province."""
    from app.core.tenant import TenantInfo
    from app.tenancy.provision import NewTenant, provision_tenant

    counter = iter(range(1, 10_000))

    async def make(province: str, timezone: str = "WIB", status: str = "active") -> TenantInfo:
        n = next(counter)
        slug = f"nat{uuid.uuid4().hex[:6]}_{n}"
        code = f"N{uuid.uuid4().hex[:4]}"
        name = f"Kab. Nasional Uji {n}"
        tid = await provision_tenant(engine, NewTenant(slug, name, code, province, timezone, status))
        return TenantInfo(tid, slug, name, code, province, status, timezone)

    return make


# --- a known data set, seeded through the real call / dispatch services ---------------------------

UTC = UTC
PROV = "Papua Pegunungan"  # WIT; no other suite registers tenants here


def ts(hour: int, minute: int = 0, day: int = 10) -> datetime:
    return datetime(2025, 3, day, hour, minute, tzinfo=UTC)


def principal_of(tenant, user):
    from app.core.principal import Principal

    return Principal(
        kind="tenant", user_id=user.id, role=user.role, name=user.full_name, tenant_slug=tenant.slug
    )


async def _ctx_run(db, tenant, user, fn, *args):
    from app.calls.service import Ctx

    async with db.tenant(tenant.slug) as s:
        return await fn(Ctx(session=s, tenant=tenant, actor=principal_of(tenant, user)), *args)


async def make_call(db, tenant, user, received_at, outcome=None, answer_s=None):
    from app.calls import service
    from app.calls.schemas import CallCreate

    data = CallCreate(
        caller_number="+6281234567890",
        outcome=outcome,
        received_at=received_at,
        answered_at=received_at + timedelta(seconds=answer_s) if answer_s is not None else None,
    )
    return await _ctx_run(db, tenant, user, service.create_call, data)


async def category_id(db, tenant, code):
    from app.dispatch.models import Category, Opd  # noqa: F401

    async with db.tenant(tenant.slug) as s:
        return (await s.execute(select(Category.id).where(Category.code == code))).scalar_one()


async def opd_id(db, tenant, code):
    from app.dispatch.models import Opd

    async with db.tenant(tenant.slug) as s:
        return (await s.execute(select(Opd.id).where(Opd.code == code))).scalar_one()


@pytest.fixture(scope="session")
async def seeded(app, db, regional_tenant, user_factory):
    """Tenant A (Papua Pegunungan, WIT, active), B (same province, verified), C (Bali, WITA).
    Depends on ``app``: creating it loads every domain's event handlers."""
    from sqlalchemy import update

    from app.calls import service as calls
    from app.calls.schemas import CallCorrection, IncidentCreate
    from app.dispatch import service as dispatch
    from app.dispatch.schemas import DispatchCreate, DispatchTransition
    from app.tenancy.models import Tenant

    a = await regional_tenant(PROV, "WIT", "active")
    b = await regional_tenant(PROV, "WIT", "verified")
    c = await regional_tenant("Bali", "WITA", "active")
    async with db.public() as s:
        await s.execute(
            update(Tenant).where(Tenant.id == a.id).values(activated_at=datetime(1999, 6, 1, tzinfo=UTC))
        )
        await s.execute(
            update(Tenant).where(Tenant.id == c.id).values(activated_at=datetime(1998, 10, 1, tzinfo=UTC))
        )
        await s.commit()
    ua, ub, uc = [await user_factory(t, "operator") for t in (a, b, c)]

    # Tenant A: 10 calls, answer delays 1,4,4,8,12,25,50,200 s; one call after 16:00 UTC = next WIT day.
    await make_call(db, a, ua, ts(1), "prank", 1)
    await make_call(db, a, ua, ts(2), "prank", 4)
    await make_call(db, a, ua, ts(3), "silent", 4)
    await make_call(db, a, ua, ts(4), "misdial", 8)
    await make_call(db, a, ua, ts(5), "non_emergency_info", 12)
    e1 = await make_call(db, a, ua, ts(6), None, 25)
    e2 = await make_call(db, a, ua, ts(7), None, 50)
    wrong = await make_call(db, a, ua, ts(8), "prank", 200)
    await make_call(db, a, ua, ts(9), None)  # never classified, never answered
    await make_call(db, a, ua, ts(16, 30), "silent")  # 01:30 WIT on 11 March
    await _ctx_run(
        db, a, ua, calls.correct_call, wrong.id, CallCorrection(outcome="silent", reason="salah pilih")
    )
    fire = await _ctx_run(
        db,
        a,
        ua,
        calls.open_incident,
        IncidentCreate(category_id=await category_id(db, a, "fire"), call_id=e1.id),
    )
    medical = await _ctx_run(
        db,
        a,
        ua,
        calls.open_incident,
        IncidentCreate(category_id=await category_id(db, a, "medical"), call_id=e2.id),
    )
    sent = await _ctx_run(
        db,
        a,
        ua,
        dispatch.dispatch_incident,
        fire.id,
        DispatchCreate(opd_ids=[await opd_id(db, a, "damkar"), await opd_id(db, a, "bpbd")]),
    )
    await _ctx_run(
        db,
        a,
        ua,
        dispatch.dispatch_incident,
        medical.id,
        DispatchCreate(opd_ids=[await opd_id(db, a, "ambulans")]),
    )
    damkar_id = await opd_id(db, a, "damkar")
    damkar = next(d for d in sent if d.opd_id == damkar_id)
    damkar_staff = await user_factory(a, "opd_staff", "damkar")
    from app.calls.service import Ctx
    from app.core.principal import Principal

    async with db.tenant(a.slug) as s:
        who = Principal(
            kind="tenant",
            user_id=damkar_staff.id,
            role="opd_staff",
            name="Damkar",
            tenant_slug=a.slug,
            opd_id=damkar_id,
        )
        await dispatch.transition(
            Ctx(session=s, tenant=a, actor=who), damkar.id, DispatchTransition(status="acknowledged")
        )

    # Tenant B: 3 calls on 10 March.
    for outcome in ("prank", "prank", "non_emergency_info"):
        await make_call(db, b, ub, ts(2), outcome, 3)
    # Tenant C (WITA = UTC+8): 15:30 UTC is 23:30 on the 10th, 16:30 UTC is 00:30 on the 11th.
    await make_call(db, c, uc, ts(15, 30), "misdial", 2)
    await make_call(db, c, uc, ts(16, 30), "prank", 2)
    # "Run the rollup jobs": intake only appended deltas; the fold makes them figures.
    from app.national.rollup import fold

    await fold(db)
    return {"a": a, "b": b, "c": c}
