"""Kecamatan (from the official list) and kelurahan (added by the admin) for address pick lists."""

from __future__ import annotations

from sqlalchemy import select
from sqlalchemy.dialects.postgresql import insert
from sqlalchemy.ext.asyncio import AsyncSession

from app.admin.models import Kecamatan, Kelurahan
from app.tenancy.regions import districts


async def ensure_kecamatan(session: AsyncSession, region_code: str) -> int:
    """Insert the regency's official kecamatan that are missing; returns how many were added."""
    names = districts(region_code)
    if not names:
        return 0
    result = await session.execute(
        insert(Kecamatan)
        .values([{"name": n} for n in names])
        .on_conflict_do_nothing(index_elements=["name"])
        .returning(Kecamatan.id)
    )
    return len(result.all())


async def area_tree(session: AsyncSession) -> list[tuple[Kecamatan, list[Kelurahan]]]:
    kecs = (await session.execute(select(Kecamatan).order_by(Kecamatan.name))).scalars().all()
    kels = (await session.execute(select(Kelurahan).order_by(Kelurahan.name))).scalars().all()
    by_kec: dict[int, list[Kelurahan]] = {}
    for k in kels:
        by_kec.setdefault(k.kecamatan_id, []).append(k)
    return [(k, by_kec.get(k.id, [])) for k in kecs]
