"""Call intake: POST /api/v1/t/{slug}/calls through the whole app vs a raw psycopg INSERT loop.

Against one fresh tenant (its own database, 2 uvicorn processes on one port, each on its own
SO_REUSEPORT socket as behind a load balancer (bench.common.Server), load generated from this
process or by `wrk`):

1. at 1, 4, 16 and 64 connections, side by side: raw = that many asyncio psycopg connections,
   each `INSERT INTO <tenant>.calls … ; COMMIT` in a loop (the ceiling PostgreSQL itself allows
   at that concurrency), then api = as many concurrent clients (closed loop) POSTing a call as a
   logged-in operator (session cookie + CSRF header), through auth, validation, the one-statement
   insert with its event-log row, domain events, commit and the live notice; `wrk` if installed,
   else bench.common.RawHttp;
2. paced, REPEATED (5 runs): an open loop at a FIXED offered rate (200 calls/s by default), each
   request sent at its scheduled time whatever the previous ones did; latency counts from the
   scheduled time, so a stall shows up in p99 (no coordinated omission). The worst run's p99 is
   the figure. The server runs with BENCH_PROBE (bench/uvicorn_on_socket.py): the garbage
   collector's passes, event-loop lags and the pool's high-water mark during the paced runs are
   printed beside it, and the raw loop's own p99 shows what PostgreSQL's commit (fsync) costs;
3. the curve: closed loop at 16 connections against 1, 2 and 4 web processes;
4. PgBouncer (transaction pooling) in front of the same database: raw and api at 16 connections.

Targets: api ≥ 40 % of raw (issue 25; was 25 %), paced p99 < 50 ms. Options: --seconds, --rate.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import os
import shutil
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import psycopg

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from bench.common import (
    PgBouncer,
    RawHttp,
    Server,
    bench_environment,
    closed_loop,
    emit,
    log,
    login,
    make_user,
    pg_background_counters,
    provision,
    quick,
    raw_insert_loop,
    run,
    server_probes,
    stalls_during,
    summarize,
)

TARGETS = {"api_vs_raw_pct": "≥ 40", "api_p99_ms": "≤ 50", "paced_p99_ms_worst": "< 50"}
CONCURRENCIES = (1, 4, 16, 64)
PROCESSES = (1, 2, 4)
PACED_RUNS = 5
BODY = {"caller_number": "+6281234567890", "channel": "voice"}


# ---------------------------------------------------------------- raw PostgreSQL ceiling


async def raw_loop(
    database_url: str, slug: str, concurrency: int, seconds: float, pooled: bool = False
) -> dict:
    from app.db.tenancy import schema_for

    sql = f"INSERT INTO \"{schema_for(slug)}\".calls (caller_number, channel, language) VALUES (%s, %s, 'id')"
    row = (BODY["caller_number"], BODY["channel"])
    return await raw_insert_loop(
        database_url, sql, lambda i: row, concurrency, seconds=seconds, pooled=pooled
    )


# ---------------------------------------------------------------- API, closed loop

WRK_SCRIPT = """
wrk.method = "POST"
wrk.body = '%(body)s'
wrk.headers["Content-Type"] = "application/json"
wrk.headers["Cookie"] = "%(cookie)s"
wrk.headers["X-CSRF-Token"] = "%(csrf)s"
done = function(summary, latency, requests)
  io.write(string.format("WRKJSON {\\"requests\\": %%d, \\"duration_us\\": %%d, \\"non2xx\\": %%d, " ..
    "\\"errors\\": %%d, \\"p50_us\\": %%d, \\"p99_us\\": %%d}\\n",
    summary.requests, summary.duration, summary.errors.status,
    summary.errors.connect + summary.errors.read + summary.errors.write + summary.errors.timeout,
    latency:percentile(50), latency:percentile(99)))
end
"""


def api_closed_loop_wrk(
    url: str, slug: str, cookies: dict, csrf: str, concurrency: int, seconds: float
) -> dict:
    cookie = "; ".join(f"{k}={v}" for k, v in cookies.items())
    with tempfile.NamedTemporaryFile("w", suffix=".lua", delete=False) as fh:
        fh.write(WRK_SCRIPT % {"body": json.dumps(BODY), "cookie": cookie, "csrf": csrf})
        script = fh.name
    try:
        out = subprocess.run(
            [
                "wrk",
                "-t1",
                f"-c{concurrency}",
                f"-d{max(1, round(seconds))}s",
                "--timeout",
                "10s",
                "-s",
                script,
                f"{url}/api/v1/t/{slug}/calls",
            ],
            capture_output=True,
            text=True,
            timeout=seconds + 60,
            check=True,
        ).stdout
    finally:
        os.unlink(script)
    line = next(x for x in out.splitlines() if x.startswith("WRKJSON "))
    r = json.loads(line[len("WRKJSON ") :])
    ok = r["requests"] - r["non2xx"] - r["errors"]
    return {
        "count": ok,
        "failed": r["non2xx"] + r["errors"],
        "rate": ok / (r["duration_us"] / 1e6),
        "p50_ms": r["p50_us"] / 1000,
        "p99_ms": r["p99_us"] / 1000,
        "tool": "wrk",
    }


async def api_closed_loop_raw(
    url: str, slug: str, cookies: dict, csrf: str, concurrency: int, seconds: float
) -> dict:
    """Closed loop on bench.common.RawHttp (a few µs a request, unlike httpx's pool)."""
    from urllib.parse import urlparse

    u = urlparse(url)
    headers = {"Cookie": "; ".join(f"{k}={v}" for k, v in cookies.items()), "X-CSRF-Token": csrf}
    body = json.dumps(BODY).encode()
    path = f"/api/v1/t/{slug}/calls"

    async def post(client, _i: int) -> bool:
        try:
            return await asyncio.wait_for(client.post_json(path, body), 10) == 201
        except (TimeoutError, OSError, asyncio.IncompleteReadError, ValueError, IndexError):
            await client.close()
            return False

    clients = [RawHttp(u.hostname, u.port, headers) for _ in range(concurrency)]
    try:
        r = await closed_loop(post, clients, seconds=seconds)
    finally:
        for c in clients:
            await c.close()
    s = summarize(r["latencies"])
    return {
        "count": len(r["latencies"]),
        "failed": r["failed"],
        "rate": len(r["latencies"]) / r["elapsed"],
        "p50_ms": s["p50_ms"],
        "p99_ms": s["p99_ms"],
        "tool": "rawhttp",
    }


def api_closed_loop(url: str, slug: str, cookies: dict, csrf: str, concurrency: int, seconds: float) -> dict:
    if shutil.which("wrk"):
        return api_closed_loop_wrk(url, slug, cookies, csrf, concurrency, seconds)
    return run(api_closed_loop_raw(url, slug, cookies, csrf, concurrency, seconds))


# ---------------------------------------------------------------- API, open loop at a fixed rate


async def api_open_loop(
    url: str,
    slug: str,
    cookies: dict,
    csrf: str,
    rate: float,
    seconds: float,
    connections: int = 64,
    timeout_s: float = 10.0,
) -> dict:
    """Requests are due at t0 + i/rate whatever happened before; a request waiting for a free
    connection is late, and its latency (from the due time) says so."""
    from urllib.parse import urlparse

    u = urlparse(url)
    headers = {"Cookie": "; ".join(f"{k}={v}" for k, v in cookies.items()), "X-CSRF-Token": csrf}
    body = json.dumps(BODY).encode()
    path = f"/api/v1/t/{slug}/calls"
    total = int(rate * seconds)
    due: asyncio.Queue = asyncio.Queue()
    latencies: list[float] = []
    failed = 0
    t0 = time.perf_counter() + 0.05
    stop_at = t0 + seconds + timeout_s

    async def connection_worker() -> None:
        nonlocal failed
        client = RawHttp(u.hostname, u.port, headers)
        try:
            while True:
                scheduled = await due.get()
                if scheduled is None:
                    return
                if time.perf_counter() > scheduled + timeout_s:  # hopelessly late: count, don't send
                    failed += 1
                    continue
                try:
                    status = await asyncio.wait_for(client.post_json(path, body), timeout_s)
                except (TimeoutError, OSError, asyncio.IncompleteReadError, ValueError, IndexError):
                    await client.close()
                    status = 0
                if status == 201:
                    latencies.append(time.perf_counter() - scheduled)
                else:
                    failed += 1
        finally:
            await client.close()

    workers = [asyncio.create_task(connection_worker()) for _ in range(connections)]
    for i in range(total):
        scheduled = t0 + i / rate
        delay = scheduled - time.perf_counter()
        if delay > 0:
            await asyncio.sleep(delay)
        due.put_nowait(scheduled)
    for _ in workers:
        due.put_nowait(None)
    await asyncio.wait(workers, timeout=max(1.0, stop_at - time.perf_counter()))
    for w in workers:
        w.cancel()
    achieved = len(latencies) / (time.perf_counter() - t0)
    # Failed: error, timeout or dropped as hopelessly late; not counted: still in flight at the cut-off.
    return {
        "count": len(latencies),
        "failed": failed + (total - len(latencies) - failed),
        "achieved_rate": achieved,
        **summarize(latencies),
    }


def count_calls(database_url: str, slug: str) -> int:
    import psycopg

    from app.db.tenancy import schema_for

    with psycopg.connect(database_url) as conn:
        return conn.execute(f'SELECT count(*) FROM "{schema_for(slug)}".calls').fetchone()[0]


# ---------------------------------------------------------------- main


def main(seconds: float | None = None, rate: float = 200.0) -> dict:
    seconds = seconds or (2.0 if quick() else 5.0)
    figures: dict = {}
    with bench_environment("intake") as env:
        slug = provision(env.database_url)
        email = make_user(env.database_url, slug, "operator")
        paced_runs: list[dict] = []
        windows: list[tuple[float, float]] = []
        # The raw ceilings first, with no server holding connections (64 more would pass
        # PostgreSQL's default max_connections of 100 with the server's pools open).
        raws = {}
        for c in CONCURRENCIES:
            log(f"raw psycopg INSERT+COMMIT, {c} connections, {seconds:.0f}s …")
            try:
                raws[c] = run(raw_loop(env.database_url, slug, c, seconds))
            except (
                OSError,
                psycopg.OperationalError,
            ) as exc:  # e.g. max_connections reached on a shared server
                log(f"  raw loop at {c} connections failed: {exc}")
                figures[f"raw_c{c}"] = f"failed: {exc}"[:120]
        with Server(env, workers=2, extra_env={"BENCH_PROBE": "1"}) as srv:
            cookies, csrf = login(srv.url, slug, email)
            before = count_calls(env.database_url, slug)
            log("warm-up …")
            run(api_closed_loop_raw(srv.url, slug, cookies, csrf, 4, 1.0))
            for c in [c for c in CONCURRENCIES if c in raws]:
                raw = raws[c]
                raw_lat = summarize(raw["latencies"])
                log(f"API closed loop, {c} connections, {seconds:.0f}s …")
                api = api_closed_loop(srv.url, slug, cookies, csrf, c, seconds)
                figures[f"raw_per_s_c{c}"] = round(raw["rate"], 1)
                figures[f"raw_p99_ms_c{c}"] = raw_lat["p99_ms"]
                figures[f"api_per_s_c{c}"] = round(api["rate"], 1)
                figures[f"api_p99_ms_c{c}"] = round(api["p99_ms"], 2)
                figures[f"api_vs_raw_pct_c{c}"] = round(100 * api["rate"] / raw["rate"], 1)
                if c == 16:
                    figures.update(
                        concurrency=16,
                        raw_insert_per_s=round(raw["rate"], 1),
                        raw_p50_ms=raw_lat["p50_ms"],
                        raw_p99_ms=raw_lat["p99_ms"],
                        api_calls_per_s=round(api["rate"], 1),
                        api_p50_ms=round(api["p50_ms"], 2),
                        api_p99_ms=round(api["p99_ms"], 2),
                        api_failed=api["failed"],
                        api_vs_raw_pct=round(100 * api["rate"] / raw["rate"], 1),
                        load_generator=api["tool"],
                    )
            pg_before = pg_background_counters(env.database_url)
            for i in range(PACED_RUNS):
                log(f"API open loop at {rate:.0f} calls/s, {seconds:.0f}s (run {i + 1}/{PACED_RUNS}) …")
                t0 = time.time()
                paced_runs.append(run(api_open_loop(srv.url, slug, cookies, csrf, rate, seconds)))
                windows.append((t0, time.time()))
            pg_after = pg_background_counters(env.database_url)
            after = count_calls(env.database_url, slug)
        stalls = stalls_during(server_probes(srv), windows)
        worst = max(paced_runs, key=lambda r: r["p99_ms"])
        figures.update(
            paced_offered_per_s=rate,
            paced_runs=PACED_RUNS,
            paced_achieved_per_s=round(min(r["achieved_rate"] for r in paced_runs), 1),
            paced_p50_ms=worst["p50_ms"],
            paced_p95_ms=worst["p95_ms"],
            paced_p99_ms_worst=worst["p99_ms"],
            paced_p99_ms_each=" / ".join(f"{r['p99_ms']:.1f}" for r in paced_runs),
            paced_max_ms_worst=max(r["max_ms"] for r in paced_runs),
            paced_failed=sum(r["failed"] for r in paced_runs),
            **{f"paced_{k}": v for k, v in stalls.items()},
            **{f"paced_pg_{k}": pg_after[k] - pg_before[k] for k in pg_after},
            # Every 201 must be a row: the API's count of successes and the table agree.
            rows_written_by_api=after - before,
        )
        for w in PROCESSES:
            with Server(env, workers=w) as srv:
                cookies, csrf = login(srv.url, slug, email)
                run(api_closed_loop_raw(srv.url, slug, cookies, csrf, 4, 0.5))
                log(f"curve: {w} web process(es), 16 connections, {seconds:.0f}s …")
                figures[f"api_per_s_{w}_procs"] = round(
                    api_closed_loop(srv.url, slug, cookies, csrf, 16, seconds)["rate"], 1
                )
        try:
            figures.update(_behind_pgbouncer(env, slug, email, seconds))
        except Exception as exc:  # reported, never a reason to lose the other figures
            figures["pgbouncer"] = f"failed: {exc!r}"[:200]
    return figures


def _behind_pgbouncer(env, slug: str, email: str, seconds: float) -> dict:
    """Raw and API at 16 connections through PgBouncer in transaction mode."""
    if not PgBouncer.available():
        return {"pgbouncer": "not installed"}
    with PgBouncer() as pgb:
        url = pgb.url(env.database_url)
        log("PgBouncer (transaction mode): raw and API at 16 connections …")
        raw = run(raw_loop(url, slug, 16, seconds, pooled=True))
        try:
            with Server(env, workers=2, extra_env={"DATABASE_URL": url}) as srv:
                cookies, csrf = login(srv.url, slug, email)
                api = api_closed_loop(srv.url, slug, cookies, csrf, 16, seconds)
        except Exception as exc:  # the app does not work behind the pooler (yet)
            return {"pgbouncer_raw_per_s": round(raw["rate"], 1), "pgbouncer_api": f"failed: {exc!r}"[:200]}
    return {
        "pgbouncer_raw_per_s": round(raw["rate"], 1),
        "pgbouncer_api_calls_per_s": round(api["rate"], 1),
        "pgbouncer_api_p99_ms": round(api["p99_ms"], 2),
        "pgbouncer_api_failed": api["failed"],
        "pgbouncer_api_vs_raw_pct": round(100 * api["rate"] / raw["rate"], 1),
    }


if __name__ == "__main__":
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--seconds", type=float, help="per phase (default 5)")
    parser.add_argument("--rate", type=float, default=200.0)
    a = parser.parse_args()
    emit(main(a.seconds, a.rate))
