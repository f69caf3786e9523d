"""A dependency outage is answered honestly: 503 with Retry-After (JSON for the API, a page for
browsers), never a plain 500; login keeps working on per-process counters while Redis is down."""

from __future__ import annotations

import httpx
import pytest

from tests.conftest import csrf_of, login
from tests.servers import RedisServer, free_port


@pytest.fixture
async def app_without_database(settings):
    """The app pointed at a PostgreSQL port where nothing listens (a database that is down)."""
    from app.main import create_app

    dead = f"postgresql://postgres@127.0.0.1:{free_port()}/siaga112"
    application = create_app(settings.model_copy(update={"database_url": dead}))
    async with application.router.lifespan_context(application):
        yield application


async def test_database_down_is_503_with_retry_after_json_and_page(app_without_database, tenant_a):
    transport = httpx.ASGITransport(app=app_without_database)
    async with httpx.AsyncClient(transport=transport, base_url="https://testserver") as c:
        api = await c.get(f"/api/v1/t/{tenant_a.slug}/calls", headers={"authorization": "Bearer sg112_x"})
        assert api.status_code == 503, api.text
        assert api.headers["retry-after"] == "5"
        body = api.json()
        assert body["unavailable"] == "database" and "coba lagi" in body["detail"]

        page = await c.get(f"/t/{tenant_a.slug}/login", headers={"accept": "text/html"})
        assert page.status_code == 503 and page.headers["retry-after"] == "5"
        assert "text/html" in page.headers["content-type"]
        assert "Layanan sementara terganggu" in page.text

        health = await c.get("/healthz")
        assert health.status_code == 503 and health.json()["database"] != "ok"


@pytest.fixture
async def own_redis():
    server = RedisServer().start()
    yield server
    server.stop()


async def test_login_works_on_local_counters_while_redis_is_down(settings, tenant_a, user_factory, own_redis):
    from app.main import create_app

    user = await user_factory(tenant_a, "operator")
    application = create_app(settings.model_copy(update={"redis_url": own_redis.url}))
    async with application.router.lifespan_context(application):
        transport = httpx.ASGITransport(app=application)
        async with httpx.AsyncClient(transport=transport, base_url="https://testserver") as c:
            token = await csrf_of(c, f"/t/{tenant_a.slug}/login")
            own_redis.stop()
            ok = await c.post(
                f"/t/{tenant_a.slug}/login",
                data={"email": user.email, "password": "uji-sandi-112-aman", "csrf_token": token},
            )
            assert ok.status_code == 303, ok.text
        async with httpx.AsyncClient(transport=transport, base_url="https://testserver") as c:
            token = await csrf_of(c, f"/t/{tenant_a.slug}/login")
            codes = []
            for _ in range(7):
                resp = await c.post(
                    f"/t/{tenant_a.slug}/login",
                    data={"email": user.email, "password": "salah-sekali", "csrf_token": token},
                )
                codes.append(resp.status_code)
            # Still throttled without Redis: five free failures, then a lockout (429 + Retry-After).
            assert codes[:5] == [401] * 5 and codes[-1] == 429, codes
            assert int(resp.headers["retry-after"]) > 0
        # Redis back: the same app uses it again.
        own_redis.start()
        async with httpx.AsyncClient(transport=transport, base_url="https://testserver") as c:
            assert (await login(c, tenant_a.slug, user.email)).status_code == 303
