"""Fixtures for the call-centre workflow: logged-in clients per role, row counters, an event spy."""

from __future__ import annotations

import httpx
import pytest
from sqlalchemy import func, select

from app.events import subscribe
from tests.conftest import csrf_of, login

SEEN: list = []
EVENT_NAMES = (
    "call.created",
    "call.updated",
    "incident.opened",
    "incident.updated",
    "dispatch.created",
    "dispatch.status_changed",
)


def _spy(name):
    @subscribe(name)
    async def handler(session, event):
        SEEN.append(event)

    return handler


SPIES = [_spy(n) for n in EVENT_NAMES]


@pytest.fixture
def seen_events():
    SEEN.clear()
    yield SEEN
    SEEN.clear()


@pytest.fixture
async def client_as(app, user_factory):
    """await client_as(tenant, role, opd_code=None) -> logged-in httpx client (CSRF header set)."""
    opened = []

    async def make(tenant, role="operator", opd_code=None):
        user = await user_factory(tenant, role, opd_code)
        c = httpx.AsyncClient(transport=httpx.ASGITransport(app=app), base_url="https://testserver")
        opened.append(c)
        resp = await login(c, tenant.slug, user.email)
        assert resp.status_code == 303, resp.text
        c.user = user
        c.headers["x-csrf-token"] = await csrf_of(c, f"/t/{tenant.slug}/login")
        return c

    yield make
    for c in opened:
        await c.aclose()


@pytest.fixture
def counts(db):
    """await counts(tenant) -> row counts of every table the workflow writes."""
    from app.audit.models import AuditLog
    from app.calls.models import Call, EventLog, Incident
    from app.dispatch.models import Dispatch

    async def read(tenant):
        async with db.tenant(tenant.slug) as s:
            return {
                m.__tablename__: (await s.execute(select(func.count()).select_from(m))).scalar_one()
                for m in (Call, Incident, Dispatch, EventLog, AuditLog)
            }

    return read


@pytest.fixture
async def ids_of(db):
    from app.dispatch.models import Category, Opd

    async def read(tenant):
        async with db.tenant(tenant.slug) as s:
            opds = dict((await s.execute(select(Opd.code, Opd.id))).all())
            cats = dict((await s.execute(select(Category.code, Category.id))).all())
        return opds, cats

    return read
