"""Telephony webhook intake: signed integrator events through the whole app vs a raw psycopg INSERT loop.

One fresh database and tenant; 2 uvicorn processes (bench.common.Server) on loopback; this
process generates the load (a minimal keep-alive HTTP client, bounded concurrency, a FIXED
number of requests).

1. raw: ``concurrency`` psycopg connections, each ``INSERT INTO <tenant>.telephony_events …;
   COMMIT`` in a loop until the same number of rows is written — the ceiling PostgreSQL allows;
2. webhook: the same count of events from simulated flood days (ringing/answered/transferred/
   ended + AML, realistic 70–90 % prank/silent mix), each signed (HMAC-SHA256) at send time,
   through tenant lookup, signature check, Redis SET NX, replay row, call upsert under its row
   lock, history row, domain events, commit and live notices. Events of one call may overtake
   each other here, as they do in production.

Prints both rates, p50/p99 latency and the ratio. Options: --requests, --concurrency.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import sys
import time
import uuid
from collections import Counter
from datetime import UTC, datetime, timedelta
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from bench.common import (
    RawHttp,
    Server,
    bench_environment,
    emit,
    log,
    provision,
    quick,
    raw_insert_loop,
    run,
    summarize,
)


def build_events(n: int) -> list[tuple[str, bytes]]:
    """``n`` (path, body) pairs from consecutive simulated flood days, in event-time order per day."""
    from app.telephony import simulator

    out: list[tuple[str, bytes]] = []
    seed = 1
    while len(out) < n:
        day = simulator.build_day(seed=seed, calls=20, flood=True)
        start = datetime.now(UTC) - timedelta(seconds=day.span_s + 60)
        for ev in day.events:
            path = "aml" if ev.kind == "aml" else "events"
            out.append(
                (path, json.dumps(simulator.event_body(ev, start + timedelta(seconds=ev.offset))).encode())
            )
        seed += 1
    return out[:n]


async def raw_loop(database_url: str, slug: str, concurrency: int, total: int) -> dict:
    from app.db.tenancy import schema_for

    sql = (
        f'INSERT INTO "{schema_for(slug)}".telephony_events (event_id, kind, external_call_id, occurred_at) '
        "VALUES (%s, 'ringing', %s, now())"
    )
    prefix = uuid.uuid4().hex[:8]
    raw = await raw_insert_loop(
        database_url, sql, lambda i: (f"raw-{prefix}-{i}", f"raw-call-{i}"), concurrency, total=total
    )
    return {"count": raw["count"], "rate": raw["rate"], **summarize(raw["latencies"])}


async def webhook_loop(
    url: str, slug: str, secret: str, events: list[tuple[str, bytes]], concurrency: int
) -> dict:
    """``concurrency`` keep-alive connections, each sending the next event when its last one is
    answered. The client is bench.common.RawHttp (a few µs a request), so on 2 cores the load
    generator does not eat the server's CPU (httpx spent more per request than the raw loop does)."""
    from urllib.parse import urlparse

    from app.telephony.signing import signed_headers

    u = urlparse(url)
    latencies: list[float] = []
    statuses: Counter = Counter()
    errors: list[str] = []
    queue = iter(events)

    async def worker() -> None:
        client = RawHttp(u.hostname, u.port, {})
        try:
            for path, body in queue:
                headers = signed_headers(secret, body)
                t0 = time.perf_counter()
                try:
                    status, content = await asyncio.wait_for(
                        client.post(f"/api/v1/t/{slug}/telephony/{path}", body, headers), 30
                    )
                    statuses[status] += 1
                    if status >= 400 and len(errors) < 5:
                        errors.append(f"{status} {content[:200]!r}")
                except (TimeoutError, OSError, asyncio.IncompleteReadError, ValueError) as exc:
                    await client.close()
                    statuses["error"] += 1
                    errors.append(repr(exc)[:200])
                latencies.append(time.perf_counter() - t0)
        finally:
            await client.close()

    started = time.perf_counter()
    await asyncio.gather(*(worker() for _ in range(concurrency)))
    elapsed = time.perf_counter() - started
    ok = statuses[200] + statuses[201]
    return {
        "count": ok,
        "rate": ok / elapsed,
        "statuses": dict(statuses),
        "errors": errors,
        **summarize(latencies),
    }


async def _check(database_url: str, slug: str, events: list[tuple[str, bytes]]) -> dict:
    """The run must have produced exactly one call per simulated call id."""
    import psycopg

    from app.db.tenancy import schema_for

    ids = {json.loads(b)["call_id"] for p, b in events if p == "events"}
    async with await psycopg.AsyncConnection.connect(database_url) as conn:
        cur = await conn.execute(
            f"SELECT count(*), count(*) FILTER (WHERE silent_suspected), "
            f"count(*) FILTER (WHERE telephony_state = 'missed') "
            f'FROM "{schema_for(slug)}".calls WHERE external_id LIKE %s',
            ("sim-%",),
        )
        calls, silent, missed = await cur.fetchone()
    return {"calls_expected": len(ids), "calls_in_db": calls, "silent_flagged": silent, "missed": missed}


def main(requests: int | None = None, concurrency: int = 16) -> dict:
    from app.telephony import simulator

    requests = requests or (1500 if quick() else 6000)
    events = build_events(requests)
    with bench_environment("webhook") as env:
        slug = provision(env.database_url)
        secret = run(simulator.tenant_secret(env.database_url, slug))
        log(f"raw INSERT+COMMIT ceiling: {requests} rows at concurrency {concurrency} …")
        raw = run(raw_loop(env.database_url, slug, concurrency, requests))
        with Server(env, workers=2) as srv:
            log(f"webhook: {requests} signed events at concurrency {concurrency} against {srv.url} …")
            api = run(webhook_loop(srv.url, slug, secret, events, concurrency))
        check = run(_check(env.database_url, slug, events))
    for line in api["errors"]:
        log("  error:", line)
    return {
        "requests": requests,
        "concurrency": concurrency,
        "raw_insert_per_s": round(raw["rate"], 1),
        "raw_p50_ms": raw["p50_ms"],
        "raw_p99_ms": raw["p99_ms"],
        "webhook_per_s": round(api["rate"], 1),
        "webhook_p50_ms": api["p50_ms"],
        "webhook_p99_ms": api["p99_ms"],
        "webhook_vs_raw_pct": round(100 * api["rate"] / raw["rate"], 1),
        "webhook_statuses": api["statuses"],
        **check,
    }


if __name__ == "__main__":
    ap = argparse.ArgumentParser()
    ap.add_argument("--requests", type=int, default=None)
    ap.add_argument("--concurrency", type=int, default=16)
    args = ap.parse_args()
    emit(main(args.requests, args.concurrency))
