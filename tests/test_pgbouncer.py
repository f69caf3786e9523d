"""The app behind PgBouncer in TRANSACTION pooling mode (Debian's pgbouncer, started here with
ONE server connection per database, so every client connection shares it): no server-side
prepared statements, no session-level state. Before the fix psycopg prepared a statement after
5 executions and the next client on that server connection failed with
``DuplicatePreparedStatement: prepared statement "_pg3_0" already exists``.
"""

from __future__ import annotations

import asyncio

import httpx
import pytest
from sqlalchemy import text

from tests.conftest import DB_NAME, PG_ADMIN, csrf_of, login
from tests.pgbouncer import binary, pgbouncer


@pytest.fixture(scope="module")
def bouncer_url():
    if binary() is None:
        pytest.fail("pgbouncer is not installed (apt-get install pgbouncer); .ci/run installs it")
    with pgbouncer(PG_ADMIN, pool_size=1) as template:
        yield template.format(db=DB_NAME)


async def test_engine_connections_share_one_server_connection_without_errors(settings, bouncer_url):
    from app.db.engine import make_async_engine

    engine = make_async_engine(settings, url=bouncer_url, pool_size=4, max_overflow=0)
    try:

        async def worker(i: int) -> int:
            total = 0
            async with engine.connect() as conn:
                for n in range(12):  # more than psycopg's default prepare threshold (5)
                    total += (
                        await conn.execute(text("SELECT CAST(:n AS integer) + 1"), {"n": n})
                    ).scalar_one()
                    await conn.commit()  # PgBouncer hands the server connection to the next client
            return total

        results = await asyncio.gather(*(worker(i) for i in range(4)))
        assert results == [sum(range(1, 13))] * 4
    finally:
        await engine.dispose()


async def test_api_intake_and_reads_through_pgbouncer(settings, bouncer_url, tenant_factory, user_factory):
    from app.main import create_app

    tenant = await tenant_factory(prefix="pgb")
    user = await user_factory(tenant, "operator")
    app = create_app(settings.model_copy(update={"database_url": bouncer_url}))
    async with app.router.lifespan_context(app):
        transport = httpx.ASGITransport(app=app)
        async with httpx.AsyncClient(transport=transport, base_url="https://testserver") as c:
            assert (await login(c, tenant.slug, user.email)).status_code == 303
            c.headers["x-csrf-token"] = await csrf_of(c, f"/t/{tenant.slug}/login")
            api = f"/api/v1/t/{tenant.slug}"

            async def one(i: int):
                created = await c.post(f"{api}/calls", json={"caller_number": f"0812{i:08d}"})
                listed = await c.get(f"{api}/calls", params={"per_page": 5})
                return created.status_code, listed.status_code

            codes = []
            for _ in range(4):
                codes += await asyncio.gather(*(one(i) for i in range(len(codes), len(codes) + 8)))
            assert codes == [(201, 200)] * 32, codes
            page = (await c.get(f"/t/{tenant.slug}/", headers={"accept": "text/html"})).status_code
            assert page == 200
            listed = (await c.get(f"{api}/calls", params={"per_page": 200})).json()
            assert listed["total"] == 32
