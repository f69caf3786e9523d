from sqlalchemy import insert

from app.calls.models import IdempotencyKey


async def seed(session, ids: dict, marker: str) -> None:
    await session.execute(
        insert(IdempotencyKey).values(scope="incident", key=f"seed-{marker}", entity_ids=[ids["incident"]])
    )
