"""Test fixtures on REAL PostgreSQL and Redis (never SQLite, never mocks).

Each pytest run creates its own throw-away database (dropped at the end) and claims a free
Redis database index, so several runs can share one machine's servers.
Servers: TEST_PG_URL (an admin connection, default postgres@127.0.0.1:5432) and TEST_REDIS_URL.
"""

from __future__ import annotations

import itertools
import os
import secrets
import tempfile
import uuid
from dataclasses import dataclass

import psycopg
import pytest
import redis

from app.core.tenant import TenantInfo

PG_ADMIN = os.environ.get("TEST_PG_URL", "postgresql://postgres@127.0.0.1:5432/postgres")
REDIS_BASE = os.environ.get("TEST_REDIS_URL", "redis://127.0.0.1:6379").rstrip("/")
TEST_PASSWORD = "uji-sandi-112-aman"


def _claim_redis_db() -> tuple[int, str]:
    token = secrets.token_hex(8)
    for index in range(1, 16):
        r = redis.Redis.from_url(f"{REDIS_BASE}/{index}")
        if r.set("siaga112:test-claim", token, nx=True, ex=3600):
            r.close()
            return index, token
        r.close()
    raise RuntimeError("no free Redis database index (1-15) for this test run")


DB_NAME = f"siaga112_test_{uuid.uuid4().hex[:10]}"
REDIS_INDEX, REDIS_TOKEN = _claim_redis_db()
_base = PG_ADMIN.rsplit("/", 1)[0]
DIRECT_DATABASE_URL = f"{_base}/{DB_NAME}"
os.environ["DATABASE_URL"] = DIRECT_DATABASE_URL
# TEST_VIA_PGBOUNCER=1: everything the app does goes through PgBouncer in transaction mode
# (started here, tests/pgbouncer.py); migrations keep their direct connection, as in production.
_BOUNCER = None
if os.environ.get("TEST_VIA_PGBOUNCER") == "1":
    from tests.pgbouncer import pgbouncer as _pgbouncer

    _BOUNCER = _pgbouncer(PG_ADMIN, pool_size=4)
    os.environ["DATABASE_URL"] = _BOUNCER.__enter__().format(db=DB_NAME)
    os.environ["MIGRATE_DATABASE_URL"] = DIRECT_DATABASE_URL
os.environ["REDIS_URL"] = f"{REDIS_BASE}/{REDIS_INDEX}"
os.environ["ENVIRONMENT"] = "test"
os.environ.setdefault("SECRET_KEY", "test-secret-key-" + "x" * 40)
os.environ["TENANT_CACHE_TTL_S"] = "0"
# Local test servers (webhook receivers, fake providers) listen on loopback: let outbound calls
# reach it (app.security.outbound); the refusal tests pass an empty allow list explicitly.
os.environ["OUTBOUND_ALLOW_NETWORKS"] = "127.0.0.0/8,::1/128"
# Uploaded documents go to a throw-away folder, never into the checkout's .siaga112.
os.environ.setdefault("UPLOAD_DIR", tempfile.mkdtemp(prefix="siaga112-uploads-"))


def pytest_sessionstart(session):
    with psycopg.connect(PG_ADMIN, autocommit=True) as conn:
        conn.execute(f'CREATE DATABASE "{DB_NAME}"')
    from app.config import get_settings
    from app.db.engine import make_sync_engine
    from app.db.migrate import upgrade_public

    get_settings.cache_clear()
    engine = make_sync_engine(DIRECT_DATABASE_URL)
    with engine.connect() as conn, conn.begin():
        upgrade_public(conn)
    engine.dispose()


def pytest_sessionfinish(session, exitstatus):
    r = redis.Redis.from_url(os.environ["REDIS_URL"])
    r.flushdb()
    r.close()
    if _BOUNCER is not None:
        _BOUNCER.__exit__(None, None, None)  # its server connections go before the database
    with psycopg.connect(PG_ADMIN, autocommit=True) as conn:
        conn.execute(f'DROP DATABASE IF EXISTS "{DB_NAME}" WITH (FORCE)')


@pytest.fixture(scope="session")
def settings():
    from app.config import get_settings

    get_settings.cache_clear()
    return get_settings()


@pytest.fixture(scope="session")
async def engine(settings):
    from app.db.engine import make_async_engine

    eng = make_async_engine(settings, pool_size=5, max_overflow=10)
    yield eng
    await eng.dispose()


@pytest.fixture(scope="session")
async def db(engine):
    from app.db.database import Database

    database = Database(engine)
    yield database
    await database.dispose()  # its read pool; the engine fixture disposes the engine too (harmless)


@pytest.fixture
def redis_client():
    r = redis.Redis.from_url(os.environ["REDIS_URL"])
    yield r
    r.close()


_counter = itertools.count(1)


@dataclass(frozen=True)
class TenantUnderTest(TenantInfo):
    """The tenant value the app passes around, plus what a test keeps beside it."""

    secret: str = ""  # its telephony webhook secret, once a test rotated one


async def tenant_of(db, slug: str) -> TenantInfo:
    """The registry's value for a slug, for helpers that are handed only the slug."""
    from app.tenancy.registry import load_tenant

    async with db.public() as s:
        tenant = await load_tenant(s, slug)
    assert tenant is not None, slug
    return tenant


@pytest.fixture(scope="session")
async def tenant_factory(engine):
    """Creates fully provisioned tenants with unique slugs; they stay for the session."""
    from app.tenancy.provision import NewTenant, provision_tenant

    async def make(status: str = "active", prefix: str = "t") -> TenantUnderTest:
        n = next(_counter)
        slug = f"{prefix}{uuid.uuid4().hex[:6]}_{n}"
        code = f"T{n:04d}"
        tid = await provision_tenant(
            engine, NewTenant(slug, f"Kota Uji {n}", code, "Sumatera Barat", "WIB", status)
        )
        return TenantUnderTest(tid, slug, f"Kota Uji {n}", code, "Sumatera Barat", status, "WIB")

    return make


@pytest.fixture(scope="session")
async def tenant_a(tenant_factory):
    return await tenant_factory(prefix="a")


@pytest.fixture(scope="session")
async def tenant_b(tenant_factory):
    return await tenant_factory(prefix="b")


@pytest.fixture(scope="session")
async def user_factory(db):
    """make_user(tenant, role, opd_code=None) -> User with password TEST_PASSWORD."""
    from sqlalchemy import select

    from app.auth.models import User
    from app.auth.passwords import hash_password
    from app.dispatch.models import Opd

    hashed = hash_password(TEST_PASSWORD)

    async def make(tenant, role: str = "operator", opd_code: str | None = None):
        async with db.tenant(tenant.slug) as s:
            opd_id = None
            if role == "opd_staff":
                opd_id = (
                    await s.execute(select(Opd.id).where(Opd.code == (opd_code or "damkar")))
                ).scalar_one()
            user = User(
                email=f"{role}-{uuid.uuid4().hex[:8]}@{tenant.slug.replace('_', '-')}.uji.id",
                full_name=f"{role.title()} Uji",
                role=role,
                opd_id=opd_id,
                password_hash=hashed,
                is_active=True,
                session_version=1,
            )
            s.add(user)
            await s.commit()
            return user

    return make


@pytest.fixture(scope="session")
async def app(settings, engine):
    from app.main import create_app

    application = create_app(settings)
    async with application.router.lifespan_context(application):
        yield application


@pytest.fixture
async def client(app):
    import httpx

    transport = httpx.ASGITransport(app=app)
    async with httpx.AsyncClient(
        transport=transport, base_url="https://testserver", follow_redirects=False
    ) as c:
        yield c


async def csrf_of(client, path: str) -> str:
    """Open a page so the session has a CSRF token, and return it."""
    import re

    resp = await client.get(path, headers={"accept": "text/html"})
    m = re.search(r'name="csrf_token" value="([^"]+)"', resp.text)
    assert m, f"no csrf token on {path} ({resp.status_code})"
    return m.group(1)


async def login(client, tenant_slug: str, email: str, password: str = TEST_PASSWORD):
    token = await csrf_of(client, f"/t/{tenant_slug}/login")
    resp = await client.post(
        f"/t/{tenant_slug}/login", data={"email": email, "password": password, "csrf_token": token}
    )
    return resp


@pytest.fixture
async def operator_client(app, tenant_a, user_factory):
    """A client logged in as an operator of tenant_a; .user, .csrf are attached."""
    import httpx

    user = await user_factory(tenant_a, "operator")
    transport = httpx.ASGITransport(app=app)
    async with httpx.AsyncClient(transport=transport, base_url="https://testserver") as c:
        resp = await login(c, tenant_a.slug, user.email)
        assert resp.status_code == 303, resp.text
        c.user = user
        c.csrf = await csrf_of(c, f"/t/{tenant_a.slug}/login")
        c.headers["x-csrf-token"] = c.csrf
        yield c


@pytest.fixture(scope="session")
def live_server(settings):
    """The real app served by uvicorn on a loopback port, for browser tests."""
    from app.cli import web_server_options
    from app.main import create_app
    from tests.servers import served

    app = create_app(settings.model_copy(update={"cookie_secure": False}))
    with served(app, **web_server_options()) as url:  # as `siaga112 web` serves it
        yield url


@pytest.fixture(scope="session")
async def browser():
    """Debian's Chromium driven by Playwright's async API, headless (no browser download).

    Async so that browser tests share the session event loop with the data fixtures.
    """
    import shutil

    from playwright.async_api import async_playwright

    path = os.environ.get("CHROMIUM_PATH") or shutil.which("chromium") or "/usr/bin/chromium"
    if not os.path.exists(path):
        pytest.fail("Chromium is not installed (apt-get install chromium); .ci/run installs it")
    async with async_playwright() as p:
        b = await p.chromium.launch(
            executable_path=path,
            headless=True,
            args=[
                "--no-sandbox",
                "--disable-gpu",
                "--disable-quic",
                "--no-first-run",
                "--disable-background-networking",
                "--disable-component-update",
                "--disable-sync",
            ],
        )
        yield b
        await b.close()
