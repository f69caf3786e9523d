"""One row per tenant table, so the isolation suite can prove every table is bound per tenant.

When a model is added, seed it in tests/seeds/seed_<domain>.py: the isolation test fails for a
table with no seed.
"""

from __future__ import annotations

from datetime import UTC, datetime

from sqlalchemy import insert, select
from sqlalchemy.ext.asyncio import AsyncSession

from app.auth.models import User
from app.calls.models import Call, EventLog, Incident
from app.dispatch.models import Category, Dispatch, Opd


async def seed_every_table(session: AsyncSession, marker: str) -> dict[str, int]:
    """Insert marked rows into every tenant table (the defaults already fill opds/categories)."""
    ids: dict[str, int] = {}
    ids["opd"] = (await session.execute(select(Opd.id).where(Opd.code == "damkar"))).scalar_one()
    ids["category"] = (await session.execute(select(Category.id).where(Category.code == "fire"))).scalar_one()
    ids["user"] = (
        await session.execute(
            insert(User)
            .values(
                email=f"iso-{marker}@x.id",
                full_name=f"Iso {marker}",
                role="operator",
                is_active=True,
                session_version=1,
            )
            .returning(User.id)
        )
    ).scalar_one()
    ids["incident"] = (
        await session.execute(
            insert(Incident)
            .values(
                category_id=ids["category"],
                priority=1,
                status="open",
                description=f"incident {marker}",
                opened_by=ids["user"],
            )
            .returning(Incident.id)
        )
    ).scalar_one()
    ids["call"] = (
        await session.execute(
            insert(Call)
            .values(
                caller_number="+6281200000001",
                channel="voice",
                language="id",
                outcome="emergency",
                incident_id=ids["incident"],
                operator_id=ids["user"],
                notes=f"call {marker}",
                received_at=datetime.now(UTC),
            )
            .returning(Call.id)
        )
    ).scalar_one()
    ids["dispatch"] = (
        await session.execute(
            insert(Dispatch)
            .values(incident_id=ids["incident"], opd_id=ids["opd"], status="sent", version=1)
            .returning(Dispatch.id)
        )
    ).scalar_one()
    ids["event"] = (
        await session.execute(
            insert(EventLog)
            .values(entity="call", entity_id=ids["call"], kind="logged", data={"marker": marker})
            .returning(EventLog.id)
        )
    ).scalar_one()
    for module in _seed_modules():
        await module.seed(session, ids, marker)
    await session.commit()
    return ids


def _seed_modules():
    import importlib
    import pkgutil

    import tests.seeds as pkg

    names = sorted(m.name for m in pkgutil.iter_modules(pkg.__path__) if m.name.startswith("seed_"))
    return [importlib.import_module(f"tests.seeds.{n}") for n in names]
