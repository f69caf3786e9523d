"""The fault-injection run: intake at a steady rate against a whole deployment while its
PostgreSQL, Redis, worker and web process are each killed and restarted; then the checks.

Every request carries its own idempotency key (``external_id``); a request that failed is
retried with the same key after the faults, as an integrator would. What must hold:
every answer is a 2xx, a 503 or a connection error (never a 500); every 2xx has exactly one
row; after the retries every key has exactly one row; every SLA answer clock whose deadline
passed is recorded as breached; the national rollup equals a recount of the calls.
"""

from __future__ import annotations

import asyncio
import os
import time
import uuid
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from pathlib import Path

import httpx
import psycopg

from tests.fault.cluster import AppProcess, OwnPostgres, RedisServer, free_port

RATE_PER_S = 50
SLUG = "fault_kota"


@dataclass
class Fault:
    name: str
    down_at: float = 0.0
    back_at: float = 0.0
    first_ok_after_s: float | None = None  # intake: first 2xx after the dependency was back
    sla_recorded_after_s: float | None = None  # worst breach recorded after back, for deadlines in the outage


@dataclass
class Result:
    answers: dict[str, list] = field(default_factory=dict)  # key -> statuses in order
    faults: list[Fault] = field(default_factory=list)
    rows: int = 0
    distinct: int = 0
    unbreached_overdue: int = 0
    breaches: int = 0
    clock_states: dict = field(default_factory=dict)
    calls_without_clock: int = 0
    national_total: int = 0
    recount_total: int = 0

    @property
    def statuses(self) -> list:
        return [s for v in self.answers.values() for s in v]


async def _setup(pg: OwnPostgres, redis: RedisServer) -> tuple[str, str]:
    """Database, migrations, one active tenant, a service token: (database url, token)."""
    from app.auth.tokens import generate_token
    from app.config import get_settings
    from app.db.database import Database
    from app.db.engine import make_async_engine, make_sync_engine
    from app.db.migrate import upgrade_public
    from app.security.models import ApiToken
    from app.tenancy.provision import NewTenant, provision_tenant

    with psycopg.connect(pg.admin_url, autocommit=True) as conn:
        conn.execute("CREATE DATABASE siaga112")
    url = pg.url("siaga112")
    engine = make_sync_engine(url)
    with engine.connect() as conn, conn.begin():
        upgrade_public(conn)
    engine.dispose()
    settings = get_settings().model_copy(update={"database_url": url, "redis_url": redis.url})
    aengine = make_async_engine(settings, pool_size=2, max_overflow=0)
    await provision_tenant(
        aengine, NewTenant(SLUG, "Kota Uji Gangguan", "F001", "Sumatera Barat", "WIB", "active")
    )
    db = Database(aengine)
    new = generate_token()
    async with db.tenant(SLUG) as s:
        s.add(
            ApiToken(
                name="fault intake",
                kind="service",
                lookup=new.lookup,
                token_hash=new.token_hash,
                scopes=["calls:read", "calls:write"],
            )
        )
        await s.commit()
    await db.dispose()
    return url, new.plain


async def run(work: Path, report=print, intake_s: float = 24.0) -> Result:
    pg, redis = OwnPostgres(), RedisServer()
    pg.start()
    redis.start()
    result = Result()
    web = worker = None
    try:
        url, token = await _setup(pg, redis)
        env = {
            **os.environ,
            "DATABASE_URL": url,
            "REDIS_URL": redis.url,
            "ENVIRONMENT": "test",
            "TENANT_CACHE_TTL_S": "5",
            "PYTHONPATH": str(Path(__file__).resolve().parents[2]),
        }
        env.pop("MIGRATE_DATABASE_URL", None)
        web = AppProcess("web", env, work, port=free_port())
        worker = AppProcess("worker", env, work)
        web.start()
        worker.start()
        report(f"deployment up: web :{web.port}, PostgreSQL :{pg.port}, Redis :{redis.port}")
        base = f"http://127.0.0.1:{web.port}/api/v1/t/{SLUG}/calls"
        headers = {"authorization": f"Bearer {token}"}
        t0 = time.monotonic()

        async with httpx.AsyncClient(headers=headers, timeout=5.0) as client:

            async def post(key: str) -> None:
                # Rung 12 s ago: its 15 s answer deadline falls 3 s later, inside the next fault.
                received = (datetime.now(UTC) - timedelta(seconds=12)).isoformat()
                body = {
                    "caller_number": f"0812{uuid.uuid4().int % 10**8:08d}",
                    "external_id": key,
                    "received_at": received,
                }
                at = time.monotonic()
                try:
                    status: int | str = (await client.post(base, json=body)).status_code
                except httpx.TransportError:
                    status = "conn"
                result.answers.setdefault(key, []).append(status)
                if status in (200, 201):
                    for f in result.faults:
                        if f.back_at and f.first_ok_after_s is None and at >= f.back_at:
                            f.first_ok_after_s = time.monotonic() - f.back_at

            async def intake() -> None:
                tasks = []
                while time.monotonic() - t0 < intake_s:
                    tasks.append(asyncio.create_task(post(f"fault-{uuid.uuid4().hex}")))
                    await asyncio.sleep(1 / RATE_PER_S)
                await asyncio.gather(*tasks)

            async def inject(name: str, down, up, outage_s: float = 2.0) -> None:
                fault = Fault(name)
                result.faults.append(fault)
                fault.down_at = time.monotonic()
                await asyncio.to_thread(down)
                await asyncio.sleep(outage_s)
                await asyncio.to_thread(up)
                fault.back_at = time.monotonic()
                report(f"{name}: down {fault.back_at - fault.down_at:.1f} s")

            async def faults() -> None:
                await asyncio.sleep(3)
                await inject("postgresql restart", pg.crash, pg.start)
                await asyncio.sleep(3)
                await inject("redis restart", redis.stop, redis.start)
                await asyncio.sleep(3)
                await inject("worker killed", worker.kill, worker.start, outage_s=0.5)
                await asyncio.sleep(3)
                await inject("web process killed", web.kill, web.start, outage_s=0.5)

            await asyncio.gather(intake(), faults())
            # An integrator retries what failed, with the same key.
            for _ in range(30):
                failed = [k for k, v in result.answers.items() if v[-1] not in (200, 201)]
                if not failed:
                    break
                await asyncio.gather(*(post(k) for k in failed))
                await asyncio.sleep(0.5)

        await _check(url, result, report)
    finally:
        for proc in (web, worker):
            if proc is not None:
                proc.stop()
        redis.stop()
        pg.destroy()
    return result


async def _check(url: str, result: Result, report) -> None:
    schema = f"tenant_{SLUG}"
    async with await psycopg.AsyncConnection.connect(url, autocommit=True) as conn:
        result.rows, result.distinct = await (
            await conn.execute(f"SELECT count(*), count(DISTINCT external_id) FROM {schema}.calls")
        ).fetchone()
        # Every overdue answer clock breached (the worker catches up after the faults).
        deadline = time.monotonic() + 60
        while True:
            (overdue,) = await (
                await conn.execute(
                    f"SELECT count(*) FROM {schema}.sla_clocks WHERE deadline < now() - interval '1 second' "
                    "AND breached_at IS NULL AND stopped_at IS NULL"
                )
            ).fetchone()
            # Not yet due (or due this very second): wait. Counting only "deadline >= now()" left
            # the clocks due in the last second in neither group, and the check ended early.
            (pending,) = await (
                await conn.execute(
                    f"SELECT count(*) FROM {schema}.sla_clocks WHERE deadline >= now() - interval '1 second' "
                    "AND breached_at IS NULL AND stopped_at IS NULL"
                )
            ).fetchone()
            if (overdue == 0 and pending == 0) or time.monotonic() > deadline:
                break
            await asyncio.sleep(1)
        result.unbreached_overdue = overdue
        clocks = await (
            await conn.execute(
                f"SELECT deadline, breached_at FROM {schema}.sla_clocks WHERE breached_at IS NOT NULL"
            )
        ).fetchall()
        result.breaches = len(clocks)
        result.clock_states = dict(
            await (
                await conn.execute(
                    f"SELECT concat_ws('/', kind, CASE WHEN breached_at IS NOT NULL THEN 'breached' "
                    "WHEN stopped_at IS NOT NULL THEN 'stopped:' || coalesce(close_reason, '?') "
                    "WHEN deadline IS NULL THEN 'no deadline' ELSE 'running' END), count(*) "
                    f"FROM {schema}.sla_clocks GROUP BY 1"
                )
            ).fetchall()
        )
        (result.calls_without_clock,) = await (
            await conn.execute(
                f"SELECT count(*) FROM {schema}.calls c WHERE NOT EXISTS (SELECT 1 FROM "
                f"{schema}.sla_clocks k WHERE k.kind = 'answer' AND k.subject_id = c.id)"
            )
        ).fetchone()
        wall_offset = datetime.now(UTC).timestamp() - time.monotonic()
        for f in result.faults:
            down, back = f.down_at + wall_offset, f.back_at + wall_offset
            late = [
                b.timestamp() - back
                for d, b in clocks
                if down <= d.timestamp() <= back and b.timestamp() >= back
            ]
            f.sla_recorded_after_s = max(late) if late else None
        # National rollup (folded by the worker every 5 s) equals a recount.
        deadline = time.monotonic() + 30
        while True:
            (national,) = await (
                await conn.execute("SELECT coalesce(sum(calls_total), 0) FROM public.national_daily")
            ).fetchone()
            (recount,) = await (await conn.execute(f"SELECT count(*) FROM {schema}.calls")).fetchone()
            if national == recount or time.monotonic() > deadline:
                break
            await asyncio.sleep(1)
        result.national_total, result.recount_total = national, recount
    report(
        f"{len(result.answers)} keys, {len(result.statuses)} requests, {result.rows} rows, "
        f"{result.breaches} SLA breaches (clocks {result.clock_states}, "
        f"{result.calls_without_clock} calls without one), national {result.national_total} vs recount {result.recount_total}"
    )
