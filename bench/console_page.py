"""Operator console page: p50/p95 of GET /t/{slug}/ for a logged-in operator.

A fresh tenant gets a realistic backlog through the real API first (calls of every outcome,
most of them prank/silent as in real 112 traffic, emergencies with open incidents), then the
console page is fetched by a few concurrent operators (closed loop, httpx, separate process
from the 2-worker uvicorn server). Options: --calls, --requests, --concurrency.
"""

from __future__ import annotations

import argparse
import asyncio
import random
import sys
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from bench.common import (
    Server,
    bench_environment,
    closed_loop,
    emit,
    log,
    login,
    make_user,
    provision,
    quick,
    run,
    summarize,
)

TARGETS = {"console_p95_ms": "< 150"}
# Share of outcomes in the seeded backlog (most 112 calls are not emergencies).
OUTCOMES = [("prank", 45), ("silent", 25), ("misdial", 8), ("non_emergency_info", 10), ("emergency", 12)]


async def seed(url: str, slug: str, cookies: dict, csrf: str, calls: int, categories: list[int]) -> dict:
    """Calls through POST /calls, an incident for every emergency (half of them closed later)."""
    import httpx

    rnd = random.Random(112)
    population = [o for o, w in OUTCOMES for _ in range(w)]
    made = {"calls": 0, "incidents": 0}
    async with httpx.AsyncClient(
        base_url=url, cookies=cookies, headers={"x-csrf-token": csrf}, timeout=30
    ) as c:
        sem = asyncio.Semaphore(8)

        async def one(i: int) -> None:
            outcome = rnd.choice(population)
            async with sem:
                resp = await c.post(
                    f"/api/v1/t/{slug}/calls",
                    json={
                        "caller_number": f"+62812{rnd.randrange(10**7, 10**8)}",
                        "channel": "voice",
                        "outcome": outcome,
                    },
                )
                resp.raise_for_status()
                made["calls"] += 1
                if outcome == "emergency" and categories:
                    inc = await c.post(
                        f"/api/v1/t/{slug}/incidents",
                        json={
                            "category_id": rnd.choice(categories),
                            "call_id": resp.json()["id"],
                            "priority": 2,
                            "address": f"Jl. Bench No. {i}",
                            "description": "Kejadian uji beban",
                        },
                    )
                    inc.raise_for_status()
                    made["incidents"] += 1

        await asyncio.gather(*(one(i) for i in range(calls)))
    return made


async def fetch_console(url: str, slug: str, cookies: dict, requests: int, concurrency: int) -> dict:
    import httpx

    async def fetch(c, _i: int) -> bool:
        resp = await c.get(f"/t/{slug}/")
        return resp.status_code == 200 and "</html>" in resp.text

    async with httpx.AsyncClient(
        base_url=url, cookies=cookies, timeout=30, headers={"accept": "text/html"}
    ) as c:
        r = await closed_loop(fetch, [c] * concurrency, total=requests)
    return {"latencies": r["latencies"], "failed": r["failed"], "rate": len(r["latencies"]) / r["elapsed"]}


def category_ids(database_url: str, slug: str) -> list[int]:
    import psycopg

    from app.db.tenancy import schema_for

    with psycopg.connect(database_url) as conn:
        return [r[0] for r in conn.execute(f'SELECT id FROM "{schema_for(slug)}".categories WHERE is_active')]


def main(calls: int | None = None, requests: int | None = None, concurrency: int = 4) -> dict:
    calls = calls or (100 if quick() else 500)
    requests = requests or (100 if quick() else 400)
    with bench_environment("console") as env:
        slug = provision(env.database_url)
        email = make_user(env.database_url, slug, "operator")
        with Server(env, workers=2) as srv:
            cookies, csrf = login(srv.url, slug, email)
            log(f"seeding {calls} calls through the API …")
            made = run(seed(srv.url, slug, cookies, csrf, calls, category_ids(env.database_url, slug)))
            run(fetch_console(srv.url, slug, cookies, 20, 2))  # warm-up
            log(f"GET /t/{slug}/ × {requests}, {concurrency} concurrent …")
            r = run(fetch_console(srv.url, slug, cookies, requests, concurrency))
    s = summarize(r["latencies"], prefix="console_")
    return {
        "calls_seeded": made["calls"],
        "incidents_seeded": made["incidents"],
        "requests": requests,
        "concurrency": concurrency,
        "console_p50_ms": s["console_p50_ms"],
        "console_p95_ms": s["console_p95_ms"],
        "console_max_ms": s["console_max_ms"],
        "pages_per_s": round(r["rate"], 1),
        "failed": r["failed"],
    }


if __name__ == "__main__":
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--calls", type=int)
    parser.add_argument("--requests", type=int)
    parser.add_argument("--concurrency", type=int, default=4)
    a = parser.parse_args()
    emit(main(a.calls, a.requests, a.concurrency))
