"""tenants/*.toml manifests: every one loads, applying twice gives the same state, bad ones are refused."""

from __future__ import annotations

import re

from sqlalchemy import select, text

from app.db import models  # noqa: F401
from app.db.base import TenantBase
from app.dispatch.models import Category, CategoryOpd, Opd
from app.tenancy import manifest
from app.tenancy.models import Tenant


async def _snapshot(engine, slug: str) -> dict:
    """Every row of every tenant table (minus the audit log) and the registry row."""
    state = {}
    async with engine.connect() as conn:
        for table in sorted(TenantBase.metadata.tables.values(), key=lambda t: t.name):
            if table.name == "audit_log":
                continue
            rows = await conn.execute(text(f'SELECT * FROM "tenant_{slug}"."{table.name}" ORDER BY 1'))
            state[table.name] = [tuple(r) for r in rows]
        state["tenants"] = [
            tuple(r)
            for r in await conn.execute(text("SELECT * FROM public.tenants WHERE slug = :s"), {"s": slug})
        ]
        state["audit_log"] = (
            await conn.execute(text(f'SELECT count(*) FROM "tenant_{slug}".audit_log'))
        ).scalar()
    return state


def _retarget(tmp_path, source: str, code: str):
    body = (manifest.MANIFEST_DIR / source).read_text()
    body = re.sub(r'region_code = "[\d.]+"', f'region_code = "{code}"', body)
    path = tmp_path / "m.toml"
    path.write_text(body)
    return path


async def test_applying_twice_gives_the_same_state(db, engine, tmp_path, free_region):
    path = _retarget(tmp_path, "kota_solok.toml", free_region)
    first = await manifest.apply_path(db, path)
    assert first.created_tenant and first.changes
    state1 = await _snapshot(engine, first.slug)
    second = await manifest.apply_path(db, path)
    assert not second.created_tenant and second.changes == []
    state2 = await _snapshot(engine, first.slug)
    assert state1 == state2  # same rows, same ids, and no new audit entry
    async with db.tenant(first.slug) as s:
        rsud = (await s.execute(select(Opd).where(Opd.code == "rsud"))).scalar_one()
        quake = (await s.execute(select(Category).where(Category.code == "earthquake"))).scalar_one()
        routed = set(
            (
                await s.execute(
                    select(Opd.code)
                    .join(CategoryOpd, CategoryOpd.opd_id == Opd.id)
                    .where(CategoryOpd.category_id == quake.id)
                )
            ).scalars()
        )
        n_opd = len((await s.execute(select(Opd.code))).all())
        from app.sla.models import SlaPolicy

        quake_sla = (await s.execute(select(SlaPolicy).where(SlaPolicy.category_id == quake.id))).scalar_one()
    assert rsud.name == "RSUD Mohammad Natsir" and quake.default_priority == 1
    assert routed == {"bpbd", "basarnas", "dinkes", "ambulans", "rsud", "pmi"}
    assert n_opd == 15  # 14 defaults + RSUD, matched by code: nothing duplicated
    assert (quake_sla.acknowledge_s, quake_sla.arrival_s) == (180, 600)
    async with db.public() as s:
        t = (await s.execute(select(Tenant).where(Tenant.slug == first.slug))).scalar_one()
    assert t.status == "active" and t.activated_at.date().isoformat() in ("2020-09-28", "2020-09-29")


async def test_changed_manifest_updates_in_place(db, engine, tmp_path, free_region):
    path = _retarget(tmp_path, "kota_padang.toml", free_region)
    r = await manifest.apply_path(db, path)
    body = path.read_text().replace('name = "RSUD dr. Rasidin Padang"', 'name = "RSUD Rasidin"')
    body = body.replace('opds = ["basarnas", "bpbd", "ambulans"]', 'opds = ["basarnas"]')
    path.write_text(body)
    again = await manifest.apply_path(db, path)
    assert "opd rsud: name" in again.changes and any(c.startswith("routing drowning") for c in again.changes)
    async with db.tenant(r.slug) as s:
        assert (await s.execute(select(Opd.name).where(Opd.code == "rsud"))).scalar_one() == "RSUD Rasidin"
        cat = (await s.execute(select(Category.id).where(Category.code == "drowning"))).scalar_one()
        assert len((await s.execute(select(CategoryOpd).where(CategoryOpd.category_id == cat))).all()) == 1
        assert len((await s.execute(select(Opd.id).where(Opd.code == "rsud"))).all()) == 1
