"""Fixtures for the tenancy-at-scale tests: a scratch database of their own.

Checks that look at EVERY tenant (pending, drift, fleet migration) need a database where only
their tenants exist, so they never race other tests' tenants in the shared session database.
"""

from __future__ import annotations

import os
import uuid
from dataclasses import dataclass

import psycopg
import pytest

from tests.conftest import PG_ADMIN


@dataclass
class ScratchDb:
    url: str
    engine: object  # AsyncEngine on this database

    def sync_engine(self, **kw):
        from app.db.engine import make_sync_engine

        return make_sync_engine(self.url, **kw)


@pytest.fixture(scope="module")
async def scratch_db(settings):
    from app.db.engine import make_async_engine, make_sync_engine
    from app.db.migrate import upgrade_public

    name = f"siaga112_scale_{uuid.uuid4().hex[:8]}"
    with psycopg.connect(PG_ADMIN, autocommit=True) as conn:
        conn.execute(f'CREATE DATABASE "{name}"')
    url = os.environ["DATABASE_URL"].rsplit("/", 1)[0] + "/" + name
    sync = make_sync_engine(url)
    with sync.begin() as conn:
        upgrade_public(conn)
    sync.dispose()
    engine = make_async_engine(settings, url=url, pool_size=4, max_overflow=0)
    try:
        yield ScratchDb(url, engine)
    finally:
        await engine.dispose()
        with psycopg.connect(PG_ADMIN, autocommit=True) as conn:
            conn.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')


async def provision_n(engine, n: int, prefix: str, concurrency: int = 4) -> list[str]:
    """Provision ``n`` tenants ``concurrency`` at a time (as onboarding would); returns slugs."""
    import asyncio

    from app.tenancy.provision import NewTenant, provision_tenant

    sem = asyncio.Semaphore(concurrency)
    slugs = [f"{prefix}{i:03d}" for i in range(n)]

    async def one(i: int, slug: str):
        async with sem:
            await provision_tenant(
                engine,
                NewTenant(
                    slug, f"Kota {slug}", f"{prefix.upper()}{i:03d}", "Sumatera Barat", "WIB", "active"
                ),
            )

    await asyncio.gather(*(one(i, s) for i, s in enumerate(slugs)))
    return slugs
