"""A tenant with a REAL Kemendagri code (Kota Sawahlunto, Sumatera Barat), so the area check applies."""

from __future__ import annotations

import dataclasses
import uuid

import pytest

from app.calls.service import Ctx
from app.core.principal import Principal
from app.telephony import service
from tests.conftest import TenantUnderTest

SAWAHLUNTO = (-0.6819, 100.7764)  # inside Sumatera Barat


@pytest.fixture(scope="session")
async def real_tenant(db, engine):
    from app.tenancy.provision import NewTenant, provision_tenant

    slug = f"loc{uuid.uuid4().hex[:6]}"
    tid = await provision_tenant(
        engine, NewTenant(slug, "Kota Sawahlunto", "13.73", "Sumatera Barat", "WIB", "active")
    )
    tenant = TenantUnderTest(tid, slug, "Kota Sawahlunto", "13.73", "Sumatera Barat", "active", "WIB")
    async with db.tenant(slug) as s:
        ctx = Ctx(
            session=s, tenant=tenant, actor=Principal(kind="tenant", user_id=None, role="admin", name="setup")
        )
        secret = await service.rotate_secret(ctx)
    return dataclasses.replace(tenant, secret=secret)
