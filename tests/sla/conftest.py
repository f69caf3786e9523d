"""SLA fixtures: a fake clock, a clean arq queue on the run's Redis db, a real in-process worker,
and a helper that opens an incident + dispatch the way the call workflow does (rows + events)."""

from __future__ import annotations

import asyncio
import contextlib
from datetime import UTC, datetime, timedelta

import httpx
import pytest
from arq import create_pool
from arq.connections import RedisSettings
from arq.worker import Worker
from sqlalchemy import select, update

from app import events, jobs
from app.calls.models import Incident
from app.core import clock as sla_clock
from app.db import uow
from app.dispatch.models import Category, Dispatch, Opd
from app.sla import service as sla_service
from app.sla.models import SlaPolicy, policy_scope
from app.worker import WorkerSettings
from tests.conftest import csrf_of, login, tenant_of

events.load_subscribers()  # what create_app and the worker do at start-up


@pytest.fixture
async def arq_pool(settings):
    """The run's own Redis db, flushed, installed as the app's queue."""
    pool = await create_pool(RedisSettings.from_dsn(settings.redis_url))
    await pool.flushdb()
    await _reclaim(pool)
    jobs.set_queue(pool)
    yield pool
    jobs.set_queue(None)  # this loop falls back to the queue it had before (see app/jobs.py)
    await pool.flushdb()
    await _reclaim(pool)
    await pool.aclose()


async def _reclaim(pool) -> None:
    """FLUSHDB also drops this run's claim on its Redis index (tests/conftest.py): put it back, or
    another test run on this machine takes the same index and the two runs' workers and keys mix."""
    from tests.conftest import REDIS_TOKEN

    await pool.set("siaga112:test-claim", REDIS_TOKEN, ex=3600)


@pytest.fixture
def fake_clock(monkeypatch):
    """Frozen SLA time. Redis then only ever holds timers that are already due (horizon 0), so a
    burst worker never waits for real time; tests move time with ``advance`` and reconcile."""
    fake = sla_clock.FakeClock(datetime.now(UTC).replace(microsecond=0))
    previous = sla_clock.use(fake)
    monkeypatch.setattr(sla_service, "SCHEDULE_HORIZON", timedelta(0))
    yield fake
    sla_clock.use(previous)


def make_worker(pool, burst: bool = True) -> Worker:
    return Worker(
        functions=WorkerSettings.functions,
        redis_pool=pool,
        burst=burst,
        poll_delay=0,
        on_startup=WorkerSettings.on_startup,
        on_shutdown=WorkerSettings.on_shutdown,
        max_jobs=20,
        job_timeout=30,
        keep_result=0,
        handle_signals=False,
    )


async def run_worker(pool) -> None:
    """A real arq worker in burst mode: runs until the queue (incl. deferred jobs) is empty."""
    worker = make_worker(pool)
    await asyncio.wait_for(worker.main(), timeout=60)
    await worker.close()


@contextlib.asynccontextmanager
async def background_worker(pool):
    worker = make_worker(pool, burst=False)
    task = asyncio.create_task(worker.main())
    try:
        yield worker
    finally:
        # A kill, not a shutdown: the main loop and every running job are cancelled mid-flight.
        task.cancel()
        for job_task in list(worker.tasks.values()):
            job_task.cancel()
        await asyncio.gather(task, *worker.tasks.values(), return_exceptions=True)
        if "db" in worker.ctx:  # what on_shutdown would have done
            jobs.set_queue(None)
            await worker.ctx["db"].dispose()


async def set_policy(db, slug: str, priority: int = 1, category_id: int | None = None, **values) -> None:
    """Upsert the tenant's policy for (priority, category); unspecified targets become NULL."""
    fields = dict(
        answer_s=None,
        dispatch_s=None,
        acknowledge_s=None,
        arrival_s=None,
        resolution_s=None,
        warning_pct=80,
        escalation_delay_s=300,
    )
    fields.update(values)
    async with db.tenant(slug) as s:
        existing = (
            await s.execute(
                select(SlaPolicy).where(
                    SlaPolicy.priority == priority,
                    SlaPolicy.category_id == category_id if category_id else SlaPolicy.category_id.is_(None),
                )
            )
        ).scalar_one_or_none()
        if existing is None:
            s.add(
                SlaPolicy(
                    priority=priority,
                    category_id=category_id,
                    scope=policy_scope(priority, category_id),
                    **fields,
                )
            )
        else:
            for k, v in fields.items():
                setattr(existing, k, v)
        await s.commit()


async def set_webhook(
    db,
    slug: str,
    opd_code: str,
    url: str | None,
    secret: str | None = "rahasia-opd-112",
    contact: str | None = "kalakhar@bpbd.go.id",
) -> int:
    async with db.tenant(slug) as s:
        opd_id = (
            await s.execute(
                update(Opd)
                .where(Opd.code == opd_code)
                .values(webhook_url=url, webhook_secret=secret, escalation_contact=contact)
                .returning(Opd.id)
            )
        ).scalar_one()
        await s.commit()
        return opd_id


async def open_dispatch(
    db,
    slug: str,
    sent_at: datetime,
    *,
    opd_code: str = "damkar",
    priority: int = 1,
    category_code: str = "fire",
) -> tuple[int, int]:
    """Incident + dispatch rows plus the events the call workflow emits, committed; (incident, dispatch) ids."""
    tenant = await tenant_of(db, slug)
    async with db.tenant(slug) as s:
        opd_id = (await s.execute(select(Opd.id).where(Opd.code == opd_code))).scalar_one()
        cat_id = (await s.execute(select(Category.id).where(Category.code == category_code))).scalar_one()
        incident = Incident(
            category_id=cat_id, priority=priority, status="open", opened_at=sent_at, description="uji SLA"
        )
        s.add(incident)
        await s.flush()
        await events.emit(s, "incident.opened", tenant, incident=incident, call=None)
        d = Dispatch(incident_id=incident.id, opd_id=opd_id, status="sent", sent_at=sent_at, version=1)
        s.add(d)
        await s.flush()
        await events.emit(s, "dispatch.created", tenant, dispatch=d, incident=incident)
        await uow.commit(s)
        return incident.id, d.id


async def change_status(db, slug: str, dispatch_id: int, new: str, at: datetime) -> None:
    tenant = await tenant_of(db, slug)
    async with db.tenant(slug) as s:
        d = await s.get(Dispatch, dispatch_id, with_for_update=True)
        old = d.status
        d.status = new
        setattr(
            d,
            {
                "acknowledged": "acknowledged_at",
                "en_route": "en_route_at",
                "on_scene": "on_scene_at",
                "resolved": "resolved_at",
                "rejected": "rejected_at",
            }[new],
            at,
        )
        await s.flush()
        await events.emit(s, "dispatch.status_changed", tenant, dispatch=d, old=old, new=new)
        await uow.commit(s)


@pytest.fixture
def captured_events():
    """Records sla.* events as they are emitted (registered only for this test)."""
    seen: list = []

    async def grab(session, event):
        # Plain values: the clock row may belong to a transaction that is later rolled back.
        seen.append(
            dict(
                name=event.name,
                tenant=event.slug,
                clock_id=event.clock.id,
                kind=event.clock.kind,
                level=event.payload.get("level"),
                breached=event.payload.get("breached"),
            )
        )

    for name in ("sla.breached", "sla.clock_closed"):
        events.subscribe(name)(grab)
    yield seen
    for name in ("sla.breached", "sla.clock_closed"):
        events.unsubscribe(name, grab)


@pytest.fixture
async def logged_in(app, user_factory):
    clients = []

    async def make(tenant, role, opd_code=None):
        """An httpx client logged in as a new user of ``tenant`` with ``role`` (CSRF header set)."""
        user = await user_factory(tenant, role, opd_code)
        c = httpx.AsyncClient(transport=httpx.ASGITransport(app=app), base_url="https://testserver")
        assert (await login(c, tenant.slug, user.email)).status_code == 303
        c.headers["x-csrf-token"] = await csrf_of(c, f"/t/{tenant.slug}/login")
        c.user = user
        clients.append(c)
        return c

    yield make
    for c in clients:
        await c.aclose()
