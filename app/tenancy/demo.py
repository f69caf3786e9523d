"""The demo: the six regencies named in shared/README.md, with staff accounts to log in with.

Idempotent: running it again creates nothing twice. Never run in production.
"""
from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime, timezone

from sqlalchemy import select, update
from sqlalchemy.ext.asyncio import AsyncEngine

from app.auth.models import PlatformUser, User
from app.auth.passwords import hash_password
from app.db.database import Database
from app.dispatch.models import Opd
from app.tenancy.models import Tenant
from app.tenancy.provision import NewTenant, provision_tenant
from app.tenancy.regions import regency

DEMO_PASSWORD = "siaga112-demo"
# Kemendagri code → launch date reported in the news (shared/README.md), or None if unknown.
DEMO_REGENCIES: list[tuple[str, datetime | None]] = [
    ("16.06", datetime(2018, 10, 15, tzinfo=timezone.utc)),   # Kab. Musi Banyuasin, 22nd of 514
    ("14.71", datetime(2018, 9, 1, tzinfo=timezone.utc)),     # Kota Pekanbaru
    ("13.72", datetime(2020, 9, 29, tzinfo=timezone.utc)),    # Kota Solok
    ("35.16", datetime(2022, 1, 20, tzinfo=timezone.utc)),    # Kab. Mojokerto, aiming for 84th
    ("13.71", datetime(2023, 8, 7, tzinfo=timezone.utc)),     # Kota Padang
    ("16.71", None),                                          # Kota Palembang (verified, not live)
]


@dataclass
class DemoAccount:
    where: str
    email: str
    role: str
    url: str


def demo_email(role: str, slug: str) -> str:
    return f"{role}@{slug.replace('_', '-')}.demo.siaga112.id"


async def seed_demo(engine: AsyncEngine, db: Database) -> list[DemoAccount]:
    accounts: list[DemoAccount] = []
    password_hash = hash_password(DEMO_PASSWORD)
    for code, launched in DEMO_REGENCIES:
        reg = regency(code)
        assert reg is not None, code
        async with db.public() as s:
            exists = (await s.execute(select(Tenant.id).where(Tenant.region_code == code))).scalar()
        if not exists:
            await provision_tenant(
                engine,
                NewTenant(slug=reg.slug, name=reg.short_name, region_code=code, province=reg.province,
                          timezone=reg.timezone, status="active" if launched else "verified"),
            )
            async with db.public() as s:
                await s.execute(
                    update(Tenant).where(Tenant.region_code == code).values(
                        verified_at=launched or datetime.now(timezone.utc), activated_at=launched)
                )
                await s.commit()
        async with db.tenant(reg.slug) as s:
            damkar = (await s.execute(select(Opd.id).where(Opd.code == "damkar"))).scalar_one()
            for role, opd_id in (("admin", None), ("supervisor", None), ("operator", None), ("opd_staff", damkar)):
                email = demo_email("damkar" if role == "opd_staff" else role, reg.slug)
                if not (await s.execute(select(User.id).where(User.email == email))).scalar():
                    s.add(User(email=email, full_name=f"{role.title()} {reg.short_name}", role=role,
                               opd_id=opd_id, password_hash=password_hash, is_active=True, session_version=1))
                accounts.append(DemoAccount(reg.short_name, email, role, f"/t/{reg.slug}/login"))
            await s.commit()
    async with db.public() as s:
        email = "kominfo@demo.siaga112.id"
        if not (await s.execute(select(PlatformUser.id).where(PlatformUser.email == email))).scalar():
            s.add(PlatformUser(email=email, full_name="Petugas Kominfo", role="kominfo",
                               password_hash=password_hash, is_active=True, session_version=1))
            await s.commit()
        accounts.append(DemoAccount("Kominfo / Komdigi", email, "kominfo", "/login"))
    return accounts
