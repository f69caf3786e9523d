"""National dashboard at full scale: 514 tenants, 5 million calls, p95 of GET /national.

What is real and what is generated (the dashboard reads ONLY public tables, never tenant schemas):
  * 514 tenants are registered in public.tenants (real Kemendagri codes/names, mixed statuses,
    launches spread 2018–2025) WITHOUT tenant schemas, and national_daily / _category / _opd are
    filled directly, as the rollup would, with 5 M calls over the last 365 days.
  * The rebuild (recount) is measured on REAL tenant data: a subset of provisioned tenants gets
    ~9,700 real call rows each (5 M / 514) plus incidents, dispatches and SLA clocks, generated
    with INSERT … SELECT generate_series, and ``rebuild_all`` recounts them; the time for 514
    tenants is EXTRAPOLATED from that subset (said so in the output).
The page is fetched by a Kominfo user over httpx from this process against a 2-worker uvicorn in
a separate process on loopback. Options: --requests, --subset, --calls.
"""

from __future__ import annotations

import argparse
import sys
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from bench.common import (
    Server,
    bench_environment,
    emit,
    log,
    provision_many,
    quick,
    run,
    summarize,
)

TARGETS = {"dashboard_p95_ms": "< 100"}
PASSWORD = "bench-sandi-112-aman"


def register_tenants(url: str) -> None:
    """514 registry rows only (no schemas): statuses and activation dates like a real rollout."""
    import psycopg

    from app.tenancy.regions import regencies

    rows = []
    for i, r in enumerate(sorted(regencies().values(), key=lambda r: r.code)):
        status = (
            "active",
            "active",
            "verified",
            "pending",
            "active",
            "suspended" if i % 37 == 0 else "verified",
        )[i % 6]
        activated = None
        if status in ("active", "suspended"):
            # Spread launches 2018-06 → 2025-10 so the cumulative curve has a shape.
            activated = time.strftime(
                "%Y-%m-%dT08:00:00+07:00", time.gmtime(1527811200 + (i * 7919 % 514) * 450_000)
            )
        rows.append((r.slug, r.short_name, r.code, r.province, status, r.timezone, activated))
    with (
        psycopg.connect(url) as conn,
        conn.cursor() as cur,
        cur.copy(
            "COPY public.tenants (slug, name, region_code, province, status, timezone, activated_at) "
            "FROM STDIN"
        ) as copy,
    ):
        for row in rows:
            copy.write_row(row)


def fill_rollups(url: str, total_calls: int) -> dict:
    """5 M calls' worth of rollup rows over the last 365 days, with realistic outcome shares."""
    import psycopg

    per_day = total_calls / (514 * 365)
    with psycopg.connect(url) as conn:
        conn.execute("SELECT setseed(0.112)")
        # Tenant weight 0.2–3.0 (Jakarta-like centres take far more calls than small kabupaten).
        conn.execute(f"""
            INSERT INTO public.national_daily (tenant_id, day, calls_total, calls_emergency, calls_non_emergency_info,
                calls_prank, calls_silent, calls_misdial, calls_duplicate, calls_unclassified, calls_answered,
                answer_ms_sum, answer_b00, answer_b01, answer_b02, answer_b03, answer_b04, answer_b05, answer_b06,
                answer_b07, answer_b08, answer_b09, answer_b10, answer_b11, answer_b12, answer_b13, answer_b14,
                answer_b15, incidents, dispatches, sla_met, sla_breached)
            SELECT tenant_id, day, n, e, info, prank, silent, mis, 0, n - e - info - prank - silent - mis, ans,
                   ans * 9000, ans / 10, ans / 10, ans / 5, ans / 10, ans / 10, ans / 10, ans / 10, ans / 20,
                   ans / 20, 0, 0, 0, 0, 0, 0, ans - (ans / 10) * 6 - ans / 5 - (ans / 20) * 2,
                   e, e * 2, e * 2 - e / 4, e / 4
            FROM (
                SELECT t.id AS tenant_id, d::date AS day,
                       n, (n * 0.12)::int AS e, (n * 0.08)::int AS info, (n * 0.40)::int AS prank,
                       (n * 0.25)::int AS silent, (n * 0.08)::int AS mis, (n * 0.9)::int AS ans
                FROM public.tenants t
                CROSS JOIN generate_series(current_date - 364, current_date, interval '1 day') d
                CROSS JOIN LATERAL (SELECT greatest(0, round({per_day} * (0.2 + (t.id * 7919 % 100) / 35.0) / 1.6143
                                                       * (0.6 + random() * 0.8)))::int AS n) k
            ) x
        """)
        for table, key, values, col in (
            (
                "national_daily_category",
                "category_code",
                ["fire", "traffic_accident", "flood", "medical", "violence_crime", "other"],
                "incidents",
            ),
            (
                "national_daily_opd",
                "opd_type",
                ["damkar", "ambulans", "polisi", "bpbd", "satpolpp", "dinkes"],
                "dispatches",
            ),
        ):
            conn.execute(
                f"""
                INSERT INTO public.{table} (tenant_id, day, {key}, {col})
                SELECT nd.tenant_id, nd.day, (%s::text[])[1 + (nd.tenant_id + extract(doy FROM nd.day)::int + k) %% 6],
                       greatest(1, nd.{col} / 3)
                FROM public.national_daily nd
                CROSS JOIN generate_series(0, 2) AS k
                WHERE nd.{col} > 0
            """,
                (values,),
            )
        conn.execute(
            "ANALYZE public.national_daily; ANALYZE public.national_daily_category; "
            "ANALYZE public.national_daily_opd; ANALYZE public.tenants"
        )
        calls, rows = conn.execute("SELECT sum(calls_total), count(*) FROM public.national_daily").fetchone()
    return {"rollup_calls": int(calls), "rollup_day_rows": int(rows)}


def kominfo_user(url: str) -> str:
    import psycopg

    from app.auth.passwords import hash_password

    email = "analis@komdigi.bench.id"
    with psycopg.connect(url) as conn:
        conn.execute(
            "INSERT INTO public.platform_users (email, full_name, password_hash, role, is_active, "
            "session_version) VALUES (%s, 'Analis Bench', %s, 'kominfo', true, 1)",
            (email, hash_password(PASSWORD)),
        )
    return email


def platform_login(base: str, email: str) -> dict:
    import re

    import httpx

    with httpx.Client(base_url=base, timeout=10) as c:
        page = c.get("/login", headers={"accept": "text/html"})
        token = re.search(r'name="csrf_token" value="([^"]+)"', page.text).group(1)
        resp = c.post("/login", data={"email": email, "password": PASSWORD, "csrf_token": token})
        if resp.status_code != 303:
            raise RuntimeError(f"login failed: {resp.status_code}")
        return dict(c.cookies)


def measure(
    base: str, cookies: dict, path: str, params: dict, n: int, headers: dict | None = None
) -> list[float]:
    import httpx

    out = []
    with httpx.Client(base_url=base, cookies=cookies, timeout=30) as c:
        for _ in range(3):  # warm-up (connection pool, template compile)
            c.get(path, params=params, headers=headers)
        for _ in range(n):
            t0 = time.perf_counter()
            resp = c.get(path, params=params, headers=headers)
            out.append(time.perf_counter() - t0)
            if resp.status_code != 200:
                raise RuntimeError(f"{path} → {resp.status_code}: {resp.text[:200]}")
    return out


def measure_cold(base: str, cookies: dict, n: int, html: dict) -> list[float]:
    """30-day windows ending on n different days: every request misses the server's figure cache
    (both workers), so this is the cost of computing the dashboard from the rollups."""
    import datetime as dt

    import httpx

    out = []
    end = dt.date.today() - dt.timedelta(days=40)
    with httpx.Client(base_url=base, cookies=cookies, timeout=30) as c:
        c.get("/national", headers=html)
        for i in range(n):
            to = end - dt.timedelta(days=i)
            params = {"from": (to - dt.timedelta(days=29)).isoformat(), "to": to.isoformat()}
            t0 = time.perf_counter()
            resp = c.get("/national", params=params, headers=html)
            out.append(time.perf_counter() - t0)
            if resp.status_code != 200:
                raise RuntimeError(f"cold /national → {resp.status_code}")
    return out


async def real_tenants_rebuild(url: str, subset: int, calls_each: int) -> dict:
    """Provision ``subset`` real tenants, fill them with generated calls, time the recount."""
    from sqlalchemy import text

    from app.config import get_settings
    from app.db.database import Database
    from app.db.engine import make_async_engine
    from app.national.rollup import rebuild_all
    from app.tenancy.provision import NewTenant

    engine = make_async_engine(get_settings(), url=url, pool_size=8, max_overflow=0)
    db = Database(engine)
    tenants = [
        NewTenant(f"rb_{i:03d}", f"Kota Rebuild {i}", f"R{i:04d}", "Bali", "WITA", "active")
        for i in range(subset)
    ]
    await provision_many(engine, tenants, concurrency=4)
    t0 = time.perf_counter()
    # Bench-only bulk data (app code never writes tenant tables with text()).
    for t in tenants:
        schema = f"tenant_{t.slug}"
        async with engine.begin() as conn:
            await conn.execute(
                text(f"""
                INSERT INTO "{schema}".calls (caller_number, channel, language, received_at, answered_at, outcome)
                SELECT '+62812' || lpad(g::text, 7, '0'), 'voice', 'id',
                       now() - (g % 365) * interval '1 day' - (g % 86400) * interval '1 second',
                       CASE WHEN g % 10 = 0 THEN NULL
                            ELSE now() - (g % 365) * interval '1 day' - (g % 86400) * interval '1 second'
                                 + (g % 90) * interval '1 second' END,
                       (ARRAY['prank','prank','silent','misdial','non_emergency_info','emergency','prank','silent',
                              NULL,'emergency'])[1 + g % 10]
                FROM generate_series(1, {calls_each}) g""")
            )
            await conn.execute(
                text(f"""
                INSERT INTO "{schema}".incidents (category_id, priority, status, opened_at)
                SELECT (SELECT min(id) FROM "{schema}".categories) + g % 9, 2, 'closed',
                       now() - (g % 365) * interval '1 day'
                FROM generate_series(1, {calls_each // 10}) g""")
            )
            await conn.execute(
                text(f"""
                INSERT INTO "{schema}".dispatches (incident_id, opd_id, status, sent_at, version)
                SELECT i.id, (SELECT min(id) FROM "{schema}".opds) + i.id % 14, 'resolved', i.opened_at, 1
                FROM "{schema}".incidents i""")
            )
            await conn.execute(text(f'ANALYZE "{schema}".calls'))
    fill_s = time.perf_counter() - t0
    slugs = [t.slug for t in tenants]
    result = await rebuild_all(db, slugs, workers=4)
    if result.failed:
        raise RuntimeError(f"rebuild failed: {result.failed}")
    single0 = time.perf_counter()
    from app.national.rollup import rebuild_tenant

    await rebuild_tenant(db, slugs[0])
    single = time.perf_counter() - single0
    await engine.dispose()
    return {
        "rebuild_subset_tenants": subset,
        "rebuild_calls_per_tenant": calls_each,
        "rebuild_subset_fill_s": round(fill_s, 1),
        "rebuild_one_tenant_ms": round(single * 1000, 1),
        "rebuild_subset_s_4_workers": round(result.seconds, 2),
        "rebuild_514_tenants_s_extrapolated": round(result.seconds / subset * 514, 1),
    }


def main(requests: int | None = None, subset: int | None = None, total_calls: int | None = None) -> dict:
    requests = requests or (40 if quick() else 200)
    subset = subset or (4 if quick() else 16)
    total_calls = total_calls or (500_000 if quick() else 5_000_000)
    figures: dict = {}
    with bench_environment("national") as env:
        t0 = time.perf_counter()
        register_tenants(env.database_url)
        figures.update(fill_rollups(env.database_url, total_calls))
        figures["fill_rollups_s"] = round(time.perf_counter() - t0, 1)
        log(f"rollups filled: {figures}")
        email = kominfo_user(env.database_url)
        with Server(env, workers=2) as srv:
            cookies = platform_login(srv.url, email)
            html = {"accept": "text/html"}
            import os

            figures["load_avg_1m_before_requests"] = round(os.getloadavg()[0], 1)
            figures.update(
                summarize(measure(srv.url, cookies, "/national", {}, requests, html), "dashboard_")
            )
            figures["dashboard_html_bytes"] = len(
                __import__("httpx").get(f"{srv.url}/national", cookies=cookies, headers=html).content
            )
            log("default dashboard done")
            figures.update(
                summarize(measure_cold(srv.url, cookies, max(20, requests // 4), html), "dashboard_uncached_")
            )
            year = {"from": time.strftime("%Y-%m-%d", time.localtime(time.time() - 364 * 86400))}
            figures.update(
                summarize(
                    measure(srv.url, cookies, "/national", year, max(20, requests // 4), html),
                    "dashboard_365d_",
                )
            )
            figures.update(
                summarize(
                    measure(
                        srv.url,
                        cookies,
                        "/national",
                        {"province": "Jawa Barat"},
                        max(20, requests // 4),
                        {**html, "hx-request": "true", "hx-target": "dashboard"},
                    ),
                    "htmx_province_filter_",
                )
            )
            figures.update(
                summarize(
                    measure(srv.url, cookies, "/api/v1/national/regencies", {}, max(20, requests // 4)),
                    "api_regencies_",
                )
            )
        import os

        figures["load_avg_1m_during_requests"] = round(os.getloadavg()[0], 1)
        figures["cores"] = os.cpu_count()
        log("measuring the recount on real tenant data …")
        figures.update(run(real_tenants_rebuild(env.database_url, subset, round(total_calls / 514))))
    return figures


if __name__ == "__main__":
    ap = argparse.ArgumentParser()
    ap.add_argument("--requests", type=int)
    ap.add_argument("--subset", type=int)
    ap.add_argument("--calls", type=int)
    a = ap.parse_args()
    emit(main(a.requests, a.subset, a.calls))
