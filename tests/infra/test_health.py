"""/healthz and /readyz against real PostgreSQL and Redis, including real failures of each."""

from __future__ import annotations

import redis.asyncio as aioredis
from sqlalchemy import text

from app.db.database import Database
from app.db.engine import make_async_engine
from app.db.migrate import head_revision
from app.db.tenancy import schema_for
from app.web import pages


async def test_healthz_reports_database_and_redis(client, app):
    from app import namespace

    key = namespace.of(app.state.redis) + ":arq:queue:health-check"
    await app.state.redis.set(key, "test heartbeat", px=5000)
    try:
        resp = await client.get("/healthz")
    finally:
        await app.state.redis.delete(key)
    assert resp.status_code == 200
    assert resp.json() == {"status": "ok", "database": "ok", "redis": "ok", "worker": "ok", "degraded": []}
    assert resp.headers["cache-control"] == "no-store"


async def test_healthz_reports_a_missing_worker_as_degraded_without_failing(client, app):
    from app import namespace

    await app.state.redis.delete(namespace.of(app.state.redis) + ":arq:queue:health-check")
    resp = await client.get("/healthz")
    assert resp.status_code == 200  # the web task itself is fine: never restarted for the worker
    body = resp.json()
    assert body["status"] == "degraded" and body["degraded"] == ["worker"]
    assert body["worker"].startswith("no heartbeat")
    ready = (await client.get("/readyz")).json()
    assert ready["worker"].startswith("no heartbeat") and "worker" in ready["degraded"]


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
    pages._behind.clear()  # drop the 30 s cache
    before = (await client.get("/readyz")).json()["tenants_behind"]
    q = f'"{schema_for(tenant.slug)}".alembic_version'
    async with engine.begin() as conn:
        real = (await conn.execute(text(f"SELECT version_num FROM {q}"))).scalar_one()
        await conn.execute(text(f"UPDATE {q} SET version_num = 't0000_older'"))
    try:
        pages._behind.clear()
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
        pages._behind.clear()
    assert (await client.get("/readyz")).json()["tenants_behind"] == before


async def test_health_reports_unreachable_redis_and_database(app, client, settings):
    """Swap in clients for servers that are not there (a closed port, a missing database).

    The session app is reused (a second lifespan would reset the process-wide job queue).
    """
    real_redis, real_db = app.state.redis, app.state.db
    try:
        app.state.redis = aioredis.from_url("redis://127.0.0.1:1/0", socket_connect_timeout=1)
        resp = await client.get("/healthz")
        assert resp.status_code == 503
        assert resp.json()["redis"].startswith("error: ") and resp.json()["database"] == "ok"
        await app.state.redis.aclose()
        app.state.redis = real_redis

        missing = settings.database_url.rsplit("/", 1)[0] + "/siaga112_no_such_database"
        app.state.db = Database(make_async_engine(settings, url=missing, pool_size=1, max_overflow=0))
        resp = await client.get("/readyz")
        assert resp.status_code == 503
        body = resp.json()
        assert body["database"].startswith("error: ") and body["migrations"] == "unknown"
        assert body["redis"] == "ok" and body["status"] == "degraded"
        await app.state.db.dispose()
    finally:
        app.state.redis, app.state.db = real_redis, real_db
    assert (await client.get("/healthz")).status_code == 200
