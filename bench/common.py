"""Helpers shared by the bench scripts: a throw-away database, real regencies, timing figures.

Every bench creates its own database (``siaga112_bench_<name>_<pid>``) on BENCH_PG_URL (an admin
URL, default the local server) and drops it afterwards, so it never touches dev or test data.
"""
from __future__ import annotations

import asyncio
import os
import statistics
import time
import uuid
from contextlib import contextmanager
from typing import Iterator

import psycopg

BENCH_PG_URL = os.environ.get("BENCH_PG_URL", "postgresql://postgres@127.0.0.1:5432/postgres")


@contextmanager
def bench_database(name: str) -> Iterator[str]:
    """Create ``siaga112_bench_<name>_<hex>``, migrate public, point the app at it; drop on exit."""
    db = f"siaga112_bench_{name}_{uuid.uuid4().hex[:6]}"
    with psycopg.connect(BENCH_PG_URL, autocommit=True) as conn:
        conn.execute(f'CREATE DATABASE "{db}"')
    url = BENCH_PG_URL.rsplit("/", 1)[0] + "/" + db
    os.environ["DATABASE_URL"] = url
    os.environ.setdefault("ENVIRONMENT", "test")
    os.environ.setdefault("SECRET_KEY", "bench-secret-key-" + "x" * 40)
    from app.config import get_settings

    get_settings.cache_clear()
    try:
        from app.db.engine import make_sync_engine
        from app.db.migrate import upgrade_public

        engine = make_sync_engine(url)
        with engine.begin() as conn:
            upgrade_public(conn)
        engine.dispose()
        yield url
    finally:
        with psycopg.connect(BENCH_PG_URL, autocommit=True) as conn:
            conn.execute(f'DROP DATABASE IF EXISTS "{db}" WITH (FORCE)')


def regency_tenants(n: int, offset: int = 0):
    """The first ``n`` of Indonesia's 514 kabupaten/kota as NewTenant rows (real codes and names)."""
    from app.tenancy.provision import NewTenant
    from app.tenancy.regions import regencies

    regs = sorted(regencies().values(), key=lambda r: r.code)[offset:offset + n]
    return [NewTenant(r.slug, r.short_name, r.code, r.province, r.timezone, "active") for r in regs]


async def provision_many(engine, tenants, concurrency: int = 4) -> list[float]:
    """Provision tenants ``concurrency`` at a time; returns each one's seconds."""
    from app.tenancy.provision import provision_tenant

    sem = asyncio.Semaphore(concurrency)
    times: list[float] = []

    async def one(t):
        async with sem:
            t0 = time.perf_counter()
            await provision_tenant(engine, t)
            times.append(time.perf_counter() - t0)

    await asyncio.gather(*(one(t) for t in tenants))
    return times


def percentiles(values: list[float]) -> dict[str, float]:
    vs = sorted(values)
    if len(vs) < 2:
        return {"p50": vs[0], "p95": vs[0], "p99": vs[0]}
    q = statistics.quantiles(vs, n=100, method="inclusive")
    return {"p50": q[49], "p95": q[94], "p99": q[98]}


def rss_mb(pid: int | None = None) -> float:
    """Resident memory of a process (this one by default), from /proc."""
    with open(f"/proc/{pid or os.getpid()}/status") as fh:
        for line in fh:
            if line.startswith("VmRSS:"):
                return int(line.split()[1]) / 1024
    return 0.0


def ms(seconds: float) -> str:
    return f"{seconds * 1000:.0f} ms"
