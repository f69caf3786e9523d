"""Call intake: POST /api/v1/t/{slug}/calls through the whole app vs a raw psycopg INSERT loop.

Three measurements against one fresh tenant (its own database, 2 uvicorn processes on one port,
each on its own SO_REUSEPORT socket as behind a load balancer (bench.common.Server), load
generated from this process or by `wrk`):

1. raw: N asyncio psycopg connections, each `INSERT INTO <tenant>.calls … ; COMMIT` in a loop —
   the ceiling PostgreSQL itself allows on this machine at that concurrency;
2. api: the same N concurrent clients (closed loop) POSTing a call as a logged-in operator
   (session cookie + CSRF header), through auth, validation, the one-statement insert with its
   event-log row, domain events, commit and the live notice; `wrk` if installed, else httpx;
3. paced: an open loop at a FIXED offered rate (200 calls/s by default), each request sent at its
   scheduled time whatever the previous ones did; latency counts from the scheduled time, so a
   stall shows up in p99 (no coordinated omission).

Targets: api ≥ 25 % of raw; paced p99 < 50 ms. Options: --concurrency, --seconds, --rate.
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

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from bench.common import (
    RawHttp,
    Server,
    bench_environment,
    closed_loop,
    emit,
    log,
    login,
    make_user,
    provision,
    quick,
    raw_insert_loop,
    run,
    summarize,
)

TARGETS = {"api_vs_raw_pct": "≥ 25", "paced_p99_ms": "< 50"}
BODY = {"caller_number": "+6281234567890", "channel": "voice"}


# ---------------------------------------------------------------- raw PostgreSQL ceiling


async def raw_loop(database_url: str, slug: str, concurrency: int, seconds: float) -> dict:
    from app.db.tenancy import schema_for

    sql = f"INSERT INTO \"{schema_for(slug)}\".calls (caller_number, channel, language) VALUES (%s, %s, 'id')"
    row = (BODY["caller_number"], BODY["channel"])
    return await raw_insert_loop(database_url, sql, lambda i: row, concurrency, seconds=seconds)


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


async def api_closed_loop_httpx(
    url: str, slug: str, cookies: dict, csrf: str, concurrency: int, seconds: float
) -> dict:
    import httpx

    async def post(client, _i: int) -> bool:
        try:
            return (await client.post(f"/api/v1/t/{slug}/calls", json=BODY)).status_code == 201
        except httpx.HTTPError:
            return False

    limits = httpx.Limits(max_connections=concurrency, max_keepalive_connections=concurrency)
    async with httpx.AsyncClient(
        base_url=url, cookies=cookies, headers={"x-csrf-token": csrf}, limits=limits, timeout=10
    ) as client:
        r = await closed_loop(post, [client] * concurrency, seconds=seconds)
    s = summarize(r["latencies"])
    return {
        "count": len(r["latencies"]),
        "failed": r["failed"],
        "rate": len(r["latencies"]) / r["elapsed"],
        "p50_ms": s["p50_ms"],
        "p99_ms": s["p99_ms"],
        "tool": "httpx",
    }


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


def main(concurrency: int | None = None, seconds: float | None = None, rate: float = 200.0) -> dict:
    concurrency = concurrency or (8 if quick() else 16)
    seconds = seconds or (3.0 if quick() else 10.0)
    with bench_environment("intake") as env:
        slug = provision(env.database_url)
        email = make_user(env.database_url, slug, "operator")

        log(f"raw psycopg INSERT+COMMIT, {concurrency} connections, {seconds:.0f}s …")
        raw = run(raw_loop(env.database_url, slug, concurrency, seconds))
        raw_lat = summarize(raw["latencies"])

        with Server(env, workers=2) as srv:
            cookies, csrf = login(srv.url, slug, email)
            before = count_calls(env.database_url, slug)
            log("warm-up …")
            run(api_closed_loop_httpx(srv.url, slug, cookies, csrf, 4, 1.0))
            log(f"API closed loop, {concurrency} connections, {seconds:.0f}s …")
            if shutil.which("wrk"):
                api = api_closed_loop_wrk(srv.url, slug, cookies, csrf, concurrency, seconds)
            else:
                api = run(api_closed_loop_httpx(srv.url, slug, cookies, csrf, concurrency, seconds))
            log(f"API open loop at {rate:.0f} calls/s, {seconds:.0f}s …")
            paced = run(api_open_loop(srv.url, slug, cookies, csrf, rate, seconds))
            after = count_calls(env.database_url, slug)

    return {
        "concurrency": concurrency,
        "raw_insert_per_s": round(raw["rate"], 1),
        "raw_p50_ms": raw_lat["p50_ms"],
        "api_calls_per_s": round(api["rate"], 1),
        "api_p50_ms": round(api["p50_ms"], 2),
        "api_p99_ms": round(api["p99_ms"], 2),
        "api_failed": api["failed"],
        "api_vs_raw_pct": round(100 * api["rate"] / raw["rate"], 1),
        "load_generator": api["tool"],
        "paced_offered_per_s": rate,
        "paced_achieved_per_s": round(paced["achieved_rate"], 1),
        "paced_p50_ms": paced["p50_ms"],
        "paced_p95_ms": paced["p95_ms"],
        "paced_p99_ms": paced["p99_ms"],
        "paced_failed": paced["failed"],
        # Every 201 must be a row: the API's count of successes and the table agree.
        "rows_written_by_api": after - before,
    }


if __name__ == "__main__":
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--concurrency", type=int)
    parser.add_argument("--seconds", type=float)
    parser.add_argument("--rate", type=float, default=200.0)
    a = parser.parse_args()
    emit(main(a.concurrency, a.seconds, a.rate))
