"""Regencies with real Kemendagri-shaped codes (province prefix matters here), an incident with a
call, notes, a location fix and a dispatch, and the service context of an operator."""

from __future__ import annotations

import itertools
import uuid
from dataclasses import dataclass

import pytest
from redis.asyncio import Redis
from sqlalchemy import select

from app.calls import service as calls
from app.calls.models import Call
from app.calls.schemas import CallCreate, IncidentCreate
from app.calls.service import Ctx
from app.core.principal import Principal
from app.core.tenant import TenantInfo
from app.dispatch import service as dispatching
from app.dispatch.models import Category, Opd
from app.dispatch.schemas import DispatchCreate
from tests.calls.conftest import client_as  # noqa: F401  (logged-in clients per role)
from tests.channels.conftest import arq_pool, channel_settings, provider_url  # noqa: F401  (warning SMS)

_codes = itertools.count(1)


@pytest.fixture(scope="session")
async def regency(engine):
    """await regency(province_code, status='active', province=...) -> TenantInfo with code PP.NN."""
    from app.tenancy.provision import NewTenant, provision_tenant

    async def make(prov: str = "97", status: str = "active", province: str = "Papua Uji") -> TenantInfo:
        n = next(_codes)
        slug = f"ho{uuid.uuid4().hex[:6]}_{n}"
        code = f"{prov}.{(n * 7 + int(uuid.uuid4().hex[:2], 16)) % 90 + 10:02d}"
        # Codes are unique in the registry: retry on a rare clash with an earlier run's choice.
        for attempt in range(20):
            try:
                tid = await provision_tenant(
                    engine, NewTenant(slug, f"Kab. Uji {n}", code, province, "WIB", status)
                )
                return TenantInfo(tid, slug, f"Kab. Uji {n}", code, province, status, "WIB")
            except Exception:
                code = f"{prov}.{(int(code[-2:]) + attempt + 1) % 90 + 10:02d}"
        raise RuntimeError("no free region code")

    return make


@dataclass
class Actor:
    tenant: TenantInfo
    user_id: int

    def ctx(self, session, redis=None) -> Ctx:
        principal = Principal(
            "tenant", self.user_id, "operator", "Operator Uji", tenant_slug=self.tenant.slug
        )
        return Ctx(session=session, tenant=self.tenant, actor=principal, redis=redis)


@pytest.fixture
async def actor(user_factory):
    async def make(tenant: TenantInfo) -> Actor:
        user = await user_factory(tenant, "operator")
        return Actor(tenant, user.id)

    return make


@pytest.fixture
async def aredis(settings):
    r = Redis.from_url(settings.redis_url)
    yield r
    await r.aclose()


@pytest.fixture
async def incident_of(db):
    """await incident_of(actor) -> incident id: a fire with a call (number, notes, location) and Damkar dispatched."""

    async def make(who: Actor, number: str = "+6281234500001", dispatch: bool = True) -> int:
        async with db.tenant(who.tenant.slug) as s:
            call = await calls.create_call(
                who.ctx(s),
                CallCreate(
                    caller_number=number, channel="voice", outcome="emergency", notes="Asap tebal dari gudang"
                ),
            )
            fire = (await s.execute(select(Category.id).where(Category.code == "fire"))).scalar_one()
            await s.execute(
                Call.__table__.update()
                .where(Call.id == call.id)
                .values(
                    location_lat=-0.79, location_lon=100.65, location_radius_m=25.0, location_source="aml"
                )
            )
            await s.commit()
            incident = await calls.open_incident(
                who.ctx(s),
                IncidentCreate(
                    call_id=call.id,
                    category_id=fire,
                    priority=1,
                    address="Jl. Perbatasan 1",
                    description="Gudang terbakar",
                ),
            )
            if dispatch:
                damkar = (await s.execute(select(Opd.id).where(Opd.code == "damkar"))).scalar_one()
                await dispatching.dispatch_incident(who.ctx(s), incident.id, DispatchCreate(opd_ids=[damkar]))
            return incident.id

    return make


@pytest.fixture(autouse=True)
async def queue(settings):
    """The arq queue the services enqueue into after commit (as the app's lifespan sets it), and
    every domain's event subscribers (national rollups, SLA, reputation), as in the app."""
    from arq import create_pool
    from arq.connections import RedisSettings

    from app import jobs
    from app.events import load_subscribers

    load_subscribers()
    pool = await create_pool(RedisSettings.from_dsn(settings.redis_url))
    jobs.set_queue(pool)
    yield pool
    jobs.set_queue(None)
    await pool.aclose()
