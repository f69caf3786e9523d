"""Seed rows for the admin domain's tenant tables (account links, kecamatan, kelurahan)."""

from datetime import UTC, datetime, timedelta

from sqlalchemy import insert

from app.admin.models import AccountLink, Kecamatan, Kelurahan


async def seed(session, ids: dict, marker: str) -> None:
    ids["account_link"] = (
        await session.execute(
            insert(AccountLink)
            .values(
                user_id=ids["user"],
                token_hash=f"seed-{marker}",
                purpose="invite",
                expires_at=datetime.now(UTC) + timedelta(days=1),
            )
            .returning(AccountLink.id)
        )
    ).scalar_one()
    ids["kecamatan"] = (
        await session.execute(insert(Kecamatan).values(name=f"Kecamatan {marker}").returning(Kecamatan.id))
    ).scalar_one()
    ids["kelurahan"] = (
        await session.execute(
            insert(Kelurahan)
            .values(kecamatan_id=ids["kecamatan"], name=f"Kelurahan {marker}", key=f"seed/{marker}")
            .returning(Kelurahan.id)
        )
    ).scalar_one()
