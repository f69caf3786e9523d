"""/healthz and /readyz against real PostgreSQL and Redis, including real failures of each."""
from __future__ import annotations

import redis.asyncio as aioredis
from sqlalchemy import text

from app.db.database import Database
from app.db.engine import make_async_engine
from app.db.migrate import head_revision
from app.db.tenancy import schema_for


async def test_healthz_reports_database_and_redis(client):
    resp = await client.get("/healthz")
    assert resp.status_code == 200
    assert resp.json() == {"status": "ok", "database": "ok", "redis": "ok"}
    assert resp.headers["cache-control"] == "no-store"


async def test_readyz_ok_when_public_at_head(client):
    resp = await client.get("/readyz")
    assert resp.status_code == 200, resp.text
    body = resp.json()
    assert body["migrations"] == "ok" and body["database"] == "ok" and body["redis"] == "ok"
    assert isinstance(body["tenants_behind"], int)


async def test_readyz_fails_while_public_schema_is_behind(app, client, engine):
    head = head_revision("public")
    async with engine.begin() as conn:
        await conn.execute(text("UPDATE public.alembic_version SET version_num = 'p0000_older'"))
    try:
        resp = await client.get("/readyz")
        assert resp.status_code == 503
        assert resp.json()["migrations"].startswith("error: public at p0000_older")
        # Liveness does not care about migrations: the process itself is fine.
        assert (await client.get("/healthz")).status_code == 200
    finally:
        async with engine.begin() as conn:
            await conn.execute(text("UPDATE public.alembic_version SET version_num = :h"), {"h": head})
    assert (await client.get("/readyz")).status_code == 200


async def test_readyz_counts_tenants_behind_without_failing(app, client, engine, tenant_factory):
    tenant = await tenant_factory()
    app.state.tenants_behind = None  # drop the 30 s cache
    before = (await client.get("/readyz")).json()["tenants_behind"]
    q = f'"{schema_for(tenant.slug)}".alembic_version'
    async with engine.begin() as conn:
        real = (await conn.execute(text(f"SELECT version_num FROM {q}"))).scalar_one()
        await conn.execute(text(f"UPDATE {q} SET version_num = 't0000_older'"))
    try:
        app.state.tenants_behind = None
        resp = await client.get("/readyz")
        assert resp.status_code == 200
        assert resp.json()["tenants_behind"] == before + 1
        # Cached: a probe a moment later does not recount all schemas.
        async with engine.begin() as conn:
            await conn.execute(text(f"UPDATE {q} SET version_num = :v"), {"v": real})
        assert (await client.get("/readyz")).json()["tenants_behind"] == before + 1
    finally:
        async with engine.begin() as conn:
            await conn.execute(text(f"UPDATE {q} SET version_num = :v"), {"v": real})
        app.state.tenants_behind = None
    assert (await client.get("/readyz")).json()["tenants_behind"] == before


async def _fresh_app(settings):
    from app.main import create_app

    application = create_app(settings)
    return application


async def test_health_reports_unreachable_redis_and_database(settings):
    """Swap in clients for servers that are not there (a closed port, a missing database)."""
    import httpx

    application = await _fresh_app(settings)
    async with application.router.lifespan_context(application):
        real_redis, real_db = application.state.redis, application.state.db
        transport = httpx.ASGITransport(app=application)
        async with httpx.AsyncClient(transport=transport, base_url="https://testserver") as c:
            application.state.redis = aioredis.from_url("redis://127.0.0.1:1/0", socket_connect_timeout=1)
            resp = await c.get("/healthz")
            assert resp.status_code == 503
            assert resp.json()["redis"].startswith("error: ") and resp.json()["database"] == "ok"
            await application.state.redis.aclose()
            application.state.redis = real_redis

            missing = settings.database_url.rsplit("/", 1)[0] + "/siaga112_no_such_database"
            application.state.db = Database(make_async_engine(settings, url=missing, pool_size=1, max_overflow=0))
            resp = await c.get("/readyz")
            assert resp.status_code == 503
            body = resp.json()
            assert body["database"].startswith("error: ") and body["migrations"] == "unknown"
            assert body["redis"] == "ok" and body["status"] == "degraded"
            await application.state.db.dispose()
            application.state.db = real_db
