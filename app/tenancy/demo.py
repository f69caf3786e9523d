"""The demo: the six regencies named in shared/README.md, with staff accounts to log in with.

Each regency comes from its manifest in tenants/ (OPDs, routing, SLA overrides, launch date);
this module only adds the staff accounts. Idempotent: running it again creates nothing twice.
Never run in production.
"""

from __future__ import annotations

from dataclasses import dataclass

from sqlalchemy import select

from app.auth.models import PlatformUser, User
from app.auth.passwords import hash_password
from app.db import uow
from app.db.database import Database
from app.dispatch.models import Opd
from app.tenancy import manifest

DEMO_PASSWORD = "siaga112-demo"


@dataclass
class DemoAccount:
    where: str
    email: str
    role: str
    url: str


def demo_email(role: str, slug: str) -> str:
    return f"{role}@{slug.replace('_', '-')}.demo.siaga112.id"


async def seed_demo(db: Database) -> list[DemoAccount]:
    accounts: list[DemoAccount] = []
    password_hash = hash_password(DEMO_PASSWORD)
    for path in manifest.discover():
        m = manifest.load(path)
        await manifest.apply(db, m)
        reg = m.region
        async with db.tenant(reg.slug) as s:
            damkar = (await s.execute(select(Opd.id).where(Opd.code == "damkar"))).scalar_one()
            for role, opd_id in (
                ("admin", None),
                ("supervisor", None),
                ("operator", None),
                ("opd_staff", damkar),
            ):
                email = demo_email("damkar" if role == "opd_staff" else role, reg.slug)
                if not (await s.execute(select(User.id).where(User.email == email))).scalar():
                    s.add(
                        User(
                            email=email,
                            full_name=f"{role.title()} {reg.short_name}",
                            role=role,
                            opd_id=opd_id,
                            password_hash=password_hash,
                            is_active=True,
                            session_version=1,
                        )
                    )
                accounts.append(DemoAccount(reg.short_name, email, role, f"/t/{reg.slug}/login"))
            await uow.commit(s)
    async with db.public() as s:
        email = "kominfo@demo.siaga112.id"
        if not (await s.execute(select(PlatformUser.id).where(PlatformUser.email == email))).scalar():
            s.add(
                PlatformUser(
                    email=email,
                    full_name="Petugas Kominfo",
                    role="kominfo",
                    password_hash=password_hash,
                    is_active=True,
                    session_version=1,
                )
            )
            await uow.commit(s)
        accounts.append(DemoAccount("Kominfo / Komdigi", email, "kominfo", "/login"))
    return accounts
