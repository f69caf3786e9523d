from datetime import UTC, datetime, timedelta

from sqlalchemy import insert

from app.location.models import LinkFix, LocationLink


async def seed(session, ids: dict, marker: str) -> None:
    now = datetime.now(UTC)
    ids["location_link"] = (
        await session.execute(
            insert(LocationLink)
            .values(
                call_id=ids["call"],
                token_hash=f"seed-location-{marker}",
                channel="sms",
                to_number="+6281200000001",
                expires_at=now + timedelta(minutes=30),
                used_at=now,
                send_state="sent",
                created_by=ids["user"],
            )
            .returning(LocationLink.id)
        )
    ).scalar_one()
    ids["link_fix"] = (
        await session.execute(
            insert(LinkFix)
            .values(
                call_id=ids["call"],
                link_id=ids["location_link"],
                lat=-0.79,
                lon=100.65,
                accuracy_m=12,
                positioned_at=now,
                flags=[],
            )
            .returning(LinkFix.id)
        )
    ).scalar_one()
