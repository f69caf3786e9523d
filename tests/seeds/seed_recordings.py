from datetime import UTC, datetime, timedelta

from sqlalchemy import insert

from app.recordings.models import Recording, RecordingPolicy


async def seed(session, ids: dict, marker: str) -> None:
    now = datetime.now(UTC)
    ids["recording"] = (
        await session.execute(
            insert(Recording)
            .values(
                call_id=ids["call"],
                object_key=f"seed/{marker}.wav",
                media_type="audio/wav",
                size_bytes=44,
                sha256="0" * 64,
                delete_after=now + timedelta(days=90),
            )
            .returning(Recording.id)
        )
    ).scalar_one()
    ids["recording_policy"] = (
        await session.execute(
            insert(RecordingPolicy)
            .values(retention_days=90, updated_by=ids["user"])
            .returning(RecordingPolicy.id)
        )
    ).scalar_one()
