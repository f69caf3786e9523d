from sqlalchemy import insert

from app.audit.models import AuditLog


async def seed(session, ids: dict, marker: str) -> None:
    ids["audit"] = (
        await session.execute(
            insert(AuditLog)
            .values(action="seed", actor_label=f"seed {marker}", entity="call", entity_id=str(ids["call"]))
            .returning(AuditLog.id)
        )
    ).scalar_one()
