"""The dashboard's short-lived figure cache: shared while fresh, re-read after its TTL, and a
concurrent burst of identical misses runs the queries once."""
from __future__ import annotations

import asyncio
import re

from sqlalchemy import func, select

from app.national import service
from app.national.models import national_daily
from tests.national.test_national import q


async def _bump(db, tenant_id: int, n: int) -> None:
    async with db.public() as s:
        day = (await s.execute(select(func.max(national_daily.c.day))
                               .where(national_daily.c.tenant_id == tenant_id))).scalar_one()
        await s.execute(national_daily.update().where(national_daily.c.tenant_id == tenant_id,
                                                      national_daily.c.day == day)
                        .values(calls_total=national_daily.c.calls_total + n))
        await s.commit()


async def test_cache_serves_the_same_figures_until_its_ttl(kominfo_client, seeded, db, monkeypatch):
    monkeypatch.setattr(service, "CACHE_TTL_S", 0.5)
    a = seeded["a"]

    async def calls() -> int:
        return (await kominfo_client.get("/api/v1/national/summary", params=q())).json()["figures"]["calls"]

    async def page_calls() -> str:
        html = (await kominfo_client.get("/national", params=q())).text
        assert re.search(r"data per \d\d:\d\d:\d\d WIB", html)
        return re.search(r'data-kpi="calls">.*?<strong>([^<]+)</strong>', html, re.S).group(1)

    before, page_before = await calls(), await page_calls()
    await _bump(db, a.id, 7)
    try:
        assert await calls() == before and await page_calls() == page_before  # within the TTL: cached
        await asyncio.sleep(0.6)
        assert await calls() == before + 7  # expired: read again
        assert await page_calls() == str(int(page_before) + 7)
    finally:
        await _bump(db, a.id, -7)


async def test_cache_runs_one_build_for_a_burst_of_identical_misses(monkeypatch):
    monkeypatch.setattr(service, "CACHE_TTL_S", 30)
    runs = 0

    async def build():
        nonlocal runs
        runs += 1
        await asyncio.sleep(0.05)
        return {"n": runs}

    results = await asyncio.gather(*[service.cached(("test-burst",), build) for _ in range(8)])
    assert runs == 1 and all(r == {"n": 1} for r in results)
    assert await service.cached(("test-burst",), build) == {"n": 1} and runs == 1
    service.clear_cache()
    assert await service.cached(("test-burst",), build) == {"n": 2}


async def test_cache_does_not_keep_a_failed_build(monkeypatch):
    monkeypatch.setattr(service, "CACHE_TTL_S", 30)

    async def boom():
        raise RuntimeError("db down")

    async def ok():
        return 1

    for _ in range(2):
        try:
            await service.cached(("test-fail",), boom)
        except RuntimeError:
            pass
        else:
            raise AssertionError("the failure must propagate")
    assert await service.cached(("test-fail",), ok) == 1
