"""Target 1: provisioning one tenant (schema, tables at head, stamp, seed) in ≤ 1 s p95.

Usage: python bench/tenancy_provision.py [N=50] [--concurrency 1]
Sequential by default, so each figure is one tenant's own latency.
"""
from __future__ import annotations

import argparse
import asyncio
import sys
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from bench.common import bench_database, percentiles, provision_many, regency_tenants  # noqa: E402


async def run(n: int, concurrency: int) -> dict[str, float]:
    from app.config import get_settings
    from app.db.engine import make_async_engine

    engine = make_async_engine(get_settings(), pool_size=max(2, concurrency), max_overflow=0)
    try:
        times = await provision_many(engine, regency_tenants(n), concurrency=concurrency)
    finally:
        await engine.dispose()
    return percentiles(times) | {"n": n, "total": sum(times)}


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("n", nargs="?", type=int, default=50)
    ap.add_argument("--concurrency", type=int, default=1)
    args = ap.parse_args()
    with bench_database("provision"):
        f = asyncio.run(run(args.n, args.concurrency))
    print(f"provision {f['n']} tenants (concurrency {args.concurrency}): "
          f"p50 {f['p50'] * 1000:.0f} ms · p95 {f['p95'] * 1000:.0f} ms · p99 {f['p99'] * 1000:.0f} ms "
          f"(target p95 ≤ 1000 ms)")


if __name__ == "__main__":
    main()
