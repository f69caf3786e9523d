"""Target 1: provisioning one tenant (schema, tables at head, stamp, seed) in <= 1 s p95.

Usage: python bench/tenancy_provision.py [N=50] [--concurrency 1]
Sequential by default, so each figure is one tenant's own latency.
"""

from __future__ import annotations

import argparse
import asyncio
import sys
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from bench.common import bench_database, emit, percentiles, provision_many, quick, regency_tenants

TARGETS = {"provision_p95_ms": "<= 1000"}


async def _run(n: int, concurrency: int) -> dict:
    from app.config import get_settings
    from app.db.engine import make_async_engine

    engine = make_async_engine(get_settings(), pool_size=max(2, concurrency), max_overflow=0)
    try:
        times = await provision_many(engine, regency_tenants(n), concurrency=concurrency)
    finally:
        await engine.dispose()
    return {f"provision_{k}_ms": round(v * 1000, 1) for k, v in percentiles(times).items()}


def main(n: int | None = None, concurrency: int = 1) -> dict:
    n = n or (20 if quick() else 50)
    with bench_database("provision"):
        return {"tenants": n, "concurrency": concurrency} | asyncio.run(_run(n, concurrency))


if __name__ == "__main__":
    ap = argparse.ArgumentParser()
    ap.add_argument("n", nargs="?", type=int, default=None)
    ap.add_argument("--concurrency", type=int, default=1)
    a = ap.parse_args()
    emit(main(a.n, a.concurrency))
