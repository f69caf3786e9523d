from sqlalchemy import insert

from app.conversations.models import Message


async def seed(session, ids: dict, marker: str) -> None:
    ids["message"] = (
        await session.execute(
            insert(Message)
            .values(
                call_id=ids["call"],
                direction="in",
                body=f"tolong {marker}",
                provider_id=f"seed-{marker}",
                state="received",
            )
            .returning(Message.id)
        )
    ).scalar_one()
