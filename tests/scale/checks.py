"""Checks shared by the small tenancy tests and the 100-tenant scale test."""

from __future__ import annotations

import asyncio
import random

from sqlalchemy import select, text

from app.db.database import Database
from app.dispatch.models import Opd


async def interleaved_tenant_writes(db: Database, slugs: list[str], per_tenant: int = 3) -> None:
    """Many concurrent sessions for different tenants, each writing then reading marked rows.

    Every session yields to the others between its write and its reads, so transactions of
    different tenants interleave on the same few pooled connections. Any row written into or
    read from the wrong schema fails the check.
    """
    jobs = [(slug, i) for slug in slugs for i in range(per_tenant)]
    random.Random(112).shuffle(jobs)

    async def one(slug: str, i: int) -> None:
        async with db.tenant(slug) as s:
            s.add(Opd(code=f"mark_{slug}_{i}"[:40], name=f"marker:{slug}", type="other"))
            await s.flush()
            await asyncio.sleep(0)
            names = set((await s.execute(select(Opd.name).where(Opd.name.like("marker:%")))).scalars())
            assert names == {f"marker:{slug}"}, f"{slug} saw rows of {names - {f'marker:{slug}'}}"
            await asyncio.sleep(0)
            await s.commit()
        async with db.tenant(slug) as s:
            names = set((await s.execute(select(Opd.name).where(Opd.name.like("marker:%")))).scalars())
            assert names == {f"marker:{slug}"}

    await asyncio.gather(*(one(slug, i) for slug, i in jobs))


def rows_per_schema(sync_conn, slugs: list[str]) -> dict[str, dict[str, int]]:
    """Ground truth, read with explicit schema names: marker → count in every tenant schema."""
    out = {}
    for slug in slugs:
        rows = sync_conn.execute(
            text(
                f"SELECT name, count(*) FROM \"tenant_{slug}\".opds WHERE name LIKE 'marker:%' GROUP BY name"
            )
        ).all()
        out[slug] = dict(rows)
    return out


FOREIGN_KEYS_LEAVING_THEIR_SCHEMA = """
SELECT src.nspname || '.' || c.relname AS source, dst.nspname || '.' || r.relname AS target, k.conname
FROM pg_constraint k
JOIN pg_class c ON c.oid = k.conrelid JOIN pg_namespace src ON src.oid = c.relnamespace
JOIN pg_class r ON r.oid = k.confrelid JOIN pg_namespace dst ON dst.oid = r.relnamespace
WHERE k.contype = 'f' AND src.nspname <> dst.nspname
  AND (src.nspname LIKE 'tenant\\_%' OR dst.nspname LIKE 'tenant\\_%')
"""

VIEWS_OUTSIDE_READING_TENANTS = """
SELECT DISTINCT vn.nspname || '.' || v.relname, tn.nspname || '.' || t.relname
FROM pg_depend d
JOIN pg_rewrite w ON d.classid = 'pg_rewrite'::regclass AND d.objid = w.oid
JOIN pg_class v ON v.oid = w.ev_class JOIN pg_namespace vn ON vn.oid = v.relnamespace
JOIN pg_class t ON d.refclassid = 'pg_class'::regclass AND t.oid = d.refobjid
JOIN pg_namespace tn ON tn.oid = t.relnamespace
WHERE tn.nspname LIKE 'tenant\\_%' AND vn.nspname <> tn.nspname
"""
