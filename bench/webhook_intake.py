"""Telephony webhook intake: signed integrator events through the whole app vs a raw psycopg INSERT loop.

One fresh database and tenant; uvicorn processes (bench.common.Server, each on its own
SO_REUSEPORT socket) on loopback; this process generates the load (bench.common.RawHttp, a
minimal keep-alive HTTP client, closed loop, a FIXED number of requests per phase).

1. At 1, 4, 16 and 64 connections, side by side: raw = ``INSERT INTO <tenant>.telephony_events …;
   COMMIT`` on that many psycopg connections (the ceiling PostgreSQL allows), then as many
   webhook events from simulated flood days: per call ringing → answered (→ transferred) → ended
   or ringing → ended (missed), AML for most emergencies, a 70–90 % prank/silent mix; each signed
   (HMAC-SHA256) at send time, through tenant lookup, signature, replay claim, the call upsert
   under its row lock, history row, SLA and national handlers, commit and live notices. Events
   of one call overtake each other here, as they do in production.
2. The curve: the same at 16 connections against 1, 2 and 4 web processes.
3. PgBouncer (transaction pooling) in front of the same database: raw and webhook at 16
   connections, reported beside the direct figures (or the error if the app fails behind it).
4. Correctness after everything: every accepted event stored once and logged once (none lost,
   none applied twice), one call per call id in the state its accepted events give, one answer
   clock per call, every accepted AML stored.

Targets (issue 25): webhook ≥ 25 % of raw at 16 connections, p99 ≤ 50 ms.
Options: --scale (multiplies the event counts).
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

import psycopg

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from bench.common import (
    PgBouncer,
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

TARGETS = {"webhook_vs_raw_pct": "≥ 25", "webhook_p99_ms": "≤ 50"}
CONCURRENCIES = (1, 4, 16, 64)
PROCESSES = (1, 2, 4)


def build_events(n: int, first_seed: int = 1) -> list[tuple[str, bytes]]:
    """``n`` (path, body) pairs from consecutive simulated flood days, in event-time order per day
    (event ids carry the day's seed: phases with other seeds never replay each other)."""
    from app.telephony import simulator

    out: list[tuple[str, bytes]] = []
    seed = first_seed
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


async def raw_loop(database_url: str, slug: str, concurrency: int, total: int, pooled: bool = False) -> dict:
    from app.db.tenancy import schema_for

    sql = (
        f'INSERT INTO "{schema_for(slug)}".telephony_events (event_id, kind, external_call_id, occurred_at) '
        "VALUES (%s, 'ringing', %s, now())"
    )
    prefix = uuid.uuid4().hex[:8]
    raw = await raw_insert_loop(
        database_url,
        sql,
        lambda i: (f"raw-{prefix}-{i}", f"raw-call-{i}"),
        concurrency,
        total=total,
        pooled=pooled,
    )
    return {"count": raw["count"], "rate": raw["rate"], **summarize(raw["latencies"])}


async def webhook_loop(
    url: str, slug: str, secret: str, events: list[tuple[str, bytes]], concurrency: int
) -> dict:
    """``concurrency`` keep-alive connections, each sending the next event when its last one is
    answered. ``accepted``: the (path, body) of every event answered 200/201."""
    from urllib.parse import urlparse

    from app.telephony.signing import signed_headers

    u = urlparse(url)
    latencies: list[float] = []
    statuses: Counter = Counter()
    errors: list[str] = []
    accepted: list[tuple[str, bytes]] = []
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
                    if status in (200, 201):
                        accepted.append((path, body))
                    elif len(errors) < 5:
                        errors.append(f"{status} {content[:200]!r}")
                except (TimeoutError, OSError, asyncio.IncompleteReadError, ValueError, IndexError) as exc:
                    await client.close()
                    statuses["error"] += 1
                    if len(errors) < 5:
                        errors.append(repr(exc)[:200])
                latencies.append(time.perf_counter() - t0)
        finally:
            await client.close()

    started = time.perf_counter()
    await asyncio.gather(*(worker() for _ in range(concurrency)))
    elapsed = time.perf_counter() - started
    return {
        "count": len(accepted),
        "rate": len(accepted) / elapsed,
        "statuses": dict(statuses),
        "errors": errors,
        "accepted": accepted,
        **summarize(latencies),
    }


def _expected(bodies: list[bytes]) -> dict[str, tuple[str, bool]]:
    """Per call id: the state and silent flag the given events give (the rules of
    app.telephony.service, recomputed independently here)."""
    times: dict[str, dict[str, datetime]] = {}
    for body in bodies:
        ev = json.loads(body)
        times.setdefault(ev["call_id"], {})[ev["type"]] = datetime.fromisoformat(ev["occurred_at"])
    out = {}
    for call_id, t in times.items():
        answered = t.get("answered") or t.get("transferred")
        if "ended" in t:
            state = "ended" if answered else "missed"
        elif "transferred" in t:
            state = "transferred"
        else:
            state = "answered" if answered else "ringing"
        silent = (
            "answered" in t
            and "ended" in t
            and "transferred" not in t
            and (t["ended"] - t["answered"]).total_seconds() < 10
        )
        out[call_id] = (state, silent)
    return out


async def _check(
    database_url: str, slug: str, sent: list[tuple[str, bytes]], accepted: list[tuple[str, bytes]]
) -> dict:
    """No accepted event lost or applied twice; every call in the state its stored events give."""
    import psycopg

    from app.db.tenancy import schema_for

    s = schema_for(slug)
    ok_ids = {json.loads(b)["event_id"] for p, b in accepted if p == "events"}
    async with await psycopg.AsyncConnection.connect(database_url) as conn:

        async def rows(sql: str) -> list:
            return await (await conn.execute(sql)).fetchall()

        calls = {
            r[0]: (r[1], r[2])
            for r in await rows(
                f'SELECT external_id, telephony_state, silent_suspected FROM "{s}".calls '
                "WHERE external_id LIKE 'sim-%'"
            )
        }
        stored = {
            r[0]
            for r in await rows(f"SELECT event_id FROM \"{s}\".telephony_events WHERE event_id LIKE 'sim-%'")
        }
        twice = (
            await rows(
                f"SELECT count(*) FROM (SELECT data->>'event_id' FROM \"{s}\".event_log "
                "WHERE kind LIKE 'telephony.%' GROUP BY 1 HAVING count(*) > 1) AS d"
            )
        )[0][0]
        logged = (await rows(f"SELECT count(*) FROM \"{s}\".event_log WHERE kind LIKE 'telephony.%'"))[0][0]
        clocks = (
            await rows(
                f'SELECT count(*) FROM "{s}".sla_clocks k JOIN "{s}".calls c ON c.id = k.subject_id '
                "WHERE k.kind = 'answer' AND k.subject = 'call' AND c.external_id LIKE 'sim-%'"
            )
        )[0][0]
        aml_rows = (await rows(f'SELECT count(*) FROM "{s}".aml_locations'))[0][0]
    # The state each call must have: from the events the database says were applied.
    expected = _expected([b for p, b in sent if p == "events" and json.loads(b)["event_id"] in stored])
    return {
        "events_accepted": len(ok_ids),
        "events_stored": len(stored),
        "events_lost": len(ok_ids - stored),  # answered 200, not stored: must be 0
        "events_stored_unanswered": len(stored - ok_ids),  # stored, answered an error (timeouts)
        "events_logged": logged,
        "events_applied_twice": twice,  # must be 0
        "calls_in_db": len(calls),
        "calls_wrong_state": sum(1 for cid, want in expected.items() if calls.get(cid) != want),
        "answer_clocks": clocks,
        "silent_flagged": sum(1 for v in calls.values() if v[1]),
        "missed": sum(1 for v in calls.values() if v[0] == "missed"),
        "aml_accepted": sum(1 for p, _ in accepted if p == "aml"),
        "aml_stored": aml_rows,
    }


def main(scale: float | None = None) -> dict:
    from app.telephony import service as telephony

    scale = scale or (0.25 if quick() else 1.0)
    sizes = {c: int(n * scale) for c, n in {1: 600, 4: 1500, 16: 4000, 64: 4000}.items()}
    curve_n, bouncer_n = int(3000 * scale), int(3000 * scale)
    figures: dict = {}
    accepted: list[tuple[str, bytes]] = []
    sent: list[tuple[str, bytes]] = []
    seed = 1

    def phase_events(n: int) -> list[tuple[str, bytes]]:
        nonlocal seed
        events = build_events(n, seed)
        seed += 1 + n // 1500  # a flood day has ≈ 2,500 events: never reuse a day
        sent.extend(events)
        return events

    def record(r: dict) -> None:
        accepted.extend(r["accepted"])
        for line in r["errors"]:
            log("  error:", line)

    with bench_environment("webhook") as env:
        slug = provision(env.database_url)
        secret = run(telephony.tenant_secret(env.database_url, slug))
        # The raw ceilings first, with no server holding connections (64 more would pass
        # PostgreSQL's default max_connections of 100 with the server's pools open).
        raws = {}
        for c in CONCURRENCIES:
            log(f"raw INSERT+COMMIT: {sizes[c]} rows at {c} connections …")
            try:
                raws[c] = run(raw_loop(env.database_url, slug, c, sizes[c]))
            except (
                OSError,
                psycopg.OperationalError,
            ) as exc:  # e.g. max_connections reached on a shared server
                log(f"  raw loop at {c} connections failed: {exc}")
                figures[f"raw_c{c}"] = f"failed: {exc}"[:120]
        with Server(env, workers=2) as srv:
            record(run(webhook_loop(srv.url, slug, secret, phase_events(200), 8)))  # warm-up
            for c in [c for c in CONCURRENCIES if c in raws]:
                n, raw = sizes[c], raws[c]
                log(f"webhook: {n} signed events at {c} connections …")
                api = run(webhook_loop(srv.url, slug, secret, phase_events(n), c))
                record(api)
                figures[f"raw_per_s_c{c}"] = round(raw["rate"], 1)
                figures[f"webhook_per_s_c{c}"] = round(api["rate"], 1)
                figures[f"webhook_p99_ms_c{c}"] = api["p99_ms"]
                figures[f"webhook_vs_raw_pct_c{c}"] = round(100 * api["rate"] / raw["rate"], 1)
                if c == 16:
                    figures.update(
                        concurrency=16,
                        raw_insert_per_s=round(raw["rate"], 1),
                        raw_p50_ms=raw["p50_ms"],
                        raw_p99_ms=raw["p99_ms"],
                        webhook_per_s=round(api["rate"], 1),
                        webhook_p50_ms=api["p50_ms"],
                        webhook_p99_ms=api["p99_ms"],
                        webhook_vs_raw_pct=round(100 * api["rate"] / raw["rate"], 1),
                        webhook_statuses=api["statuses"],
                    )
        for w in PROCESSES:
            with Server(env, workers=w) as srv:
                log(f"curve: {curve_n} events at 16 connections, {w} web process(es) …")
                record(run(webhook_loop(srv.url, slug, secret, phase_events(100), 4)))  # warm-up
                r = run(webhook_loop(srv.url, slug, secret, phase_events(curve_n), 16))
                record(r)
                figures[f"webhook_per_s_{w}_procs"] = round(r["rate"], 1)
        try:
            figures.update(_behind_pgbouncer(env, slug, secret, bouncer_n, phase_events, record))
        except Exception as exc:  # reported, never a reason to lose the other figures
            figures["pgbouncer"] = f"failed: {exc!r}"[:200]
        figures.update(run(_check(env.database_url, slug, sent, accepted)))
    return figures


def _behind_pgbouncer(env, slug: str, secret: str, n: int, phase_events, record) -> dict:
    """Raw and webhook at 16 connections through PgBouncer in transaction mode."""
    if not PgBouncer.available():
        return {"pgbouncer": "not installed"}
    with PgBouncer() as pgb:
        url = pgb.url(env.database_url)
        log(f"PgBouncer (transaction mode): raw and webhook, {n} at 16 connections …")
        try:
            raw = run(raw_loop(url, slug, 16, n, pooled=True))
        except Exception as exc:  # the ceiling itself through the pooler
            return {"pgbouncer": f"raw loop failed: {exc!r}"[:200]}
        with Server(env, workers=2, extra_env={"DATABASE_URL": url}) as srv:
            r = run(webhook_loop(srv.url, slug, secret, phase_events(n), 16))
        record(r)
    out = {
        "pgbouncer_raw_per_s": round(raw["rate"], 1),
        "pgbouncer_webhook_per_s": round(r["rate"], 1),
        "pgbouncer_webhook_p99_ms": r["p99_ms"],
        "pgbouncer_webhook_vs_raw_pct": round(100 * r["rate"] / raw["rate"], 1),
        "pgbouncer_webhook_statuses": r["statuses"],
    }
    if r["errors"]:
        out["pgbouncer_first_error"] = r["errors"][0][:160]
    return out


if __name__ == "__main__":
    ap = argparse.ArgumentParser()
    ap.add_argument("--scale", type=float, default=None, help="multiply the event counts (default 1)")
    args = ap.parse_args()
    emit(main(args.scale))
