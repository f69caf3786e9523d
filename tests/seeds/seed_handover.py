import uuid

from sqlalchemy import insert

from app.handover.models import HandoverInbox, HandoverOutbox


async def seed(session, ids: dict, marker: str) -> None:
    ids["handover_out"] = (
        await session.execute(
            insert(HandoverOutbox)
            .values(
                transfer_id=uuid.uuid4(),
                incident_id=ids["incident"],
                receiver_tenant_id=1,
                receiver_slug=f"seed_{marker.lower()}",
                receiver_name=f"Seed {marker}",
                reason=f"seed {marker}",
                document={"marker": marker},
                status="pending",
            )
            .returning(HandoverOutbox.id)
        )
    ).scalar_one()
    ids["handover"] = ids["inbox"] = (
        await session.execute(
            insert(HandoverInbox)
            .values(
                transfer_id=uuid.uuid4(),
                source="external",
                sender_name=f"Seed {marker}",
                reason=f"seed {marker}",
                document={"marker": marker},
                status="ringing",
            )
            .returning(HandoverInbox.id)
        )
    ).scalar_one()
