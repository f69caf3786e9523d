"""Targets 1–6 at national scale: 514 regencies, side by side with the raw-DDL ceiling.

Usage: python bench/tenancy_scale.py [N=514] [--workers 4] [--concurrency 4]
Creates siaga112_bench_scale_<hex> (BENCH_PG_URL), provisions N real kabupaten/kota, measures,
and drops the database. The ceiling column is from /work/shared/notes/tenancy-at-scale.md
(plain DDL and Alembic on the same kind of 2-core machine, PostgreSQL 15).
"""

from __future__ import annotations

import argparse
import asyncio
import os
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from bench.common import (
    BackendMemory,
    bench_database,
    emit,
    log,
    percentiles,
    provision_many,
    quick,
    regency_tenants,
    rss_mb,
    scratch_tenant_revision,
)


def timed(fn, repeat: int = 5) -> float:
    runs = []
    for _ in range(repeat):
        t0 = time.perf_counter()
        fn()
        runs.append(time.perf_counter() - t0)
    return statistics.median(runs)


async def provision_and_touch(n: int, concurrency: int) -> dict:
    from sqlalchemy import select

    from app.config import get_settings
    from app.db.database import Database
    from app.db.engine import make_async_engine
    from app.dispatch.models import Opd

    settings = get_settings()
    engine = make_async_engine(settings, pool_size=concurrency, max_overflow=0)
    out: dict = {}
    try:
        tenants = regency_tenants(n)
        t0 = time.perf_counter()
        times = await provision_many(engine, tenants, concurrency=concurrency)
        out["provision_wall"] = time.perf_counter() - t0
        out["provision"] = percentiles(times)
        # Bounded caches: the same statement against every tenant adds nothing to the cache.
        db = Database(engine)
        stmt = select(Opd.code).where(Opd.code == "damkar")
        async with db.tenant(tenants[0].slug) as s:
            await s.execute(stmt)
        before = len(engine.sync_engine._compiled_cache)
        t0 = time.perf_counter()
        for t in tenants:
            async with db.tenant(t.slug) as s:
                await s.execute(stmt)
        out["touch_all"] = time.perf_counter() - t0
        out["cache"] = (before, len(engine.sync_engine._compiled_cache))
        out["pool_recycle"] = engine.sync_engine.pool._recycle
        out["slugs"] = [t.slug for t in tenants]
    finally:
        await engine.dispose()
    return out


TARGETS = {
    "provision_p95_ms": "<= 1000",
    "versions_query_ms": "<= 1000",
    "deploy_nothing_pending_ms": "at once",
    "fleet_metadata_only_s": "<= 60",
}


def main(n: int | None = None, workers: int = 4, concurrency: int = 4) -> dict:
    args = argparse.Namespace(n=n or (60 if quick() else 514), workers=workers, concurrency=concurrency)
    rows: list[tuple[str, str, str]] = []
    figures: dict = {"tenants": args.n}

    with bench_database("scale") as url, tempfile.TemporaryDirectory() as tmp:
        from sqlalchemy import text

        from app.db.catalog import tenant_drift
        from app.db.engine import make_sync_engine
        from app.db.migrate import deploy, head_revision, migrate_tenants, pending_tenants, tenant_versions

        log(f"provisioning {args.n} regencies, {args.concurrency} at a time …")
        f = asyncio.run(provision_and_touch(args.n, args.concurrency))
        p = f["provision"]
        rows.append(
            (
                "provision one tenant (p50 / p95 / p99)",
                f"{p['p50'] * 1000:.0f} / {p['p95'] * 1000:.0f} / {p['p99'] * 1000:.0f} ms",
                "42 ms p50, 88 ms p99 (25 tables, DDL only)",
            )
        )
        figures.update(
            provision_p50_ms=round(p["p50"] * 1000),
            provision_p95_ms=round(p["p95"] * 1000),
            provision_p99_ms=round(p["p99"] * 1000),
        )
        rows.append(
            (
                f"provision {args.n} tenants (wall, {args.concurrency} at a time)",
                f"{f['provision_wall']:.1f} s",
                "22.5 s for 514 (DDL only)",
            )
        )
        figures["provision_all_s"] = round(f["provision_wall"], 1)

        engine = make_sync_engine(url)
        with engine.connect() as conn:
            catalog_mb = conn.execute(
                text(
                    "SELECT sum(pg_total_relation_size(c.oid)) / 1048576.0 FROM pg_class c "
                    "WHERE c.relnamespace = 'pg_catalog'::regnamespace"
                )
            ).scalar()
            tables = conn.execute(
                text(
                    "SELECT count(*) FROM pg_class c JOIN pg_namespace n ON n.oid = c.relnamespace "
                    "WHERE n.nspname LIKE 'tenant\\_%' AND c.relkind = 'r'"
                )
            ).scalar()
            rows.append(("pg_catalog size", f"{catalog_mb:.0f} MB ({tables} tenant tables)", "217 MB"))
            figures["pg_catalog_mb"] = round(float(catalog_mb))

            versions_s = timed(lambda: tenant_versions(conn))
            conn.rollback()
            assert not pending_tenants(conn)
            conn.rollback()
            rows.append(("read every schema's version (one query)", f"{versions_s * 1000:.0f} ms", "0.10 s"))
            figures["versions_query_ms"] = round(versions_s * 1000, 1)

        t0 = time.perf_counter()
        res = deploy(url, workers=args.workers)
        deploy_s = time.perf_counter() - t0
        rows.append(
            ("deploy, nothing pending (in process)", f"{deploy_s * 1000:.0f} ms", "11.6 s (Alembic loop)")
        )
        figures["deploy_nothing_pending_ms"] = round(deploy_s * 1000)
        assert not res.ok and not res.failed and len(res.skipped) == args.n
        env = dict(os.environ, DATABASE_URL=url)
        t0 = time.perf_counter()
        subprocess.run(
            [sys.executable, "-m", "app.cli", "db", "upgrade"], env=env, check=True, stdout=subprocess.DEVNULL
        )
        cli_s = time.perf_counter() - t0
        rows.append(("`siaga112 db upgrade`, nothing pending (whole command)", f"{cli_s:.2f} s", "11.6 s"))
        figures["cli_upgrade_nothing_pending_s"] = round(cli_s, 2)

        with engine.connect() as conn:
            t0 = time.perf_counter()
            drift = tenant_drift(conn)
            drift_s = time.perf_counter() - t0
        assert len(drift) == args.n and not any(drift.values()), "unexpected drift"
        rows.append(("drift check, every tenant", f"{drift_s:.2f} s ({len(drift)} clean)", "—"))
        figures["drift_check_s"] = round(drift_s, 2)
        before, after = f["cache"]
        rows.append(
            (
                f"compiled cache after touching {args.n} tenants",
                f"{before} → {after} entries",
                "516 with f-string search_path",
            )
        )
        rows.append(("pool_recycle (db_pool_recycle_s)", f"{f['pool_recycle']} s", "—"))
        figures.update(compiled_cache_before=before, compiled_cache_after=after)

        # Fleet migration of a metadata-only revision, with memory sampled.
        location = scratch_tenant_revision(tmp)
        new_head = head_revision("tenant", location)
        rss_points: list[float] = []
        done = {"n": 0}

        def on_progress(slug, status, error):
            done["n"] += 1
            if done["n"] % max(1, args.n // 8) == 0:
                rss_points.append(rss_mb())

        rss0 = rss_mb()
        with BackendMemory(url) as mem:
            fleet = migrate_tenants(
                engine, f["slugs"], workers=args.workers, script_location=location, on_progress=on_progress
            )
        assert not fleet.failed, fleet.failed
        with engine.connect() as conn:
            assert not pending_tenants(conn, new_head)
        rows.append(
            (
                f"fleet migration, metadata-only, {args.n} tenants, {args.workers} workers",
                f"{fleet.seconds:.1f} s (ok {len(fleet.ok)}, failed {len(fleet.failed)})",
                "37.8 s (204-revision chain)",
            )
        )
        rows.append(
            (
                "  client RSS during the fleet run",
                f"{rss0:.0f} → " + " → ".join(f"{v:.0f}" for v in rss_points) + " MB",
                "—",
            )
        )
        rows.append(
            (
                "  peak private memory of one fleet worker backend",
                f"{mem.peak_mb:.0f} MB ({fleet.connections} connections, recycled every 40)",
                "—",
            )
        )
        rows.append(
            (
                f"  the bench's own backend (touched all {args.n} schemas: versions, drift)",
                f"{mem.preexisting_peak_mb:.0f} MB",
                "397 MB for one that touched all 514",
            )
        )
        figures.update(
            fleet_metadata_only_s=round(fleet.seconds, 1),
            fleet_failed=len(fleet.failed),
            client_rss_start_mb=round(rss0),
            client_rss_end_mb=round(rss_points[-1] if rss_points else rss0),
            backend_peak_private_mb=round(mem.peak_mb),
            backend_all_schemas_private_mb=round(mem.preexisting_peak_mb),
            fleet_connections=fleet.connections,
        )
        rerun = migrate_tenants(engine, f["slugs"], workers=args.workers, script_location=location)
        figures["fleet_rerun_ms"] = round(rerun.seconds * 1000)
        rows.append(
            (
                "  rerun (resume: nothing left)",
                f"{rerun.seconds * 1000:.0f} ms (skipped {len(rerun.skipped)})",
                "—",
            )
        )
        engine.dispose()

    width = max(len(r[0]) for r in rows)
    w2 = max(len(r[1]) for r in rows)
    lines = [f"{'what':<{width}}  {'Siaga112':<{w2}}  ceiling from the notes"]
    lines += [f"{what:<{width}}  {ours:<{w2}}  {ceiling}" for what, ours, ceiling in rows]
    lines.append(f"machine: {os.cpu_count()} cores, PostgreSQL on localhost")
    log("\n" + "\n".join(lines) + "\n")
    return figures


if __name__ == "__main__":
    ap = argparse.ArgumentParser()
    ap.add_argument("n", nargs="?", type=int, default=None)
    ap.add_argument("--workers", type=int, default=4)
    ap.add_argument("--concurrency", type=int, default=4)
    a = ap.parse_args()
    emit(main(a.n, a.workers, a.concurrency))
