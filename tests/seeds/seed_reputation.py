from datetime import UTC, datetime

from sqlalchemy import insert

from app.reputation.models import CallerReview


async def seed(session, ids: dict, marker: str) -> None:
    # Closed, so the isolation suite's row copy does not collide with the one-open-review index.
    ids["review"] = (
        await session.execute(
            insert(CallerReview)
            .values(
                call_id=ids["call"],
                caller_number="+6281200000001",
                national_summary="3 iseng di 1 kab/kota dalam 30 hari",
                local_suspicious=3,
                note=f"seed {marker}",
                requested_by=ids["user"],
                status="closed",
                decision="no_action",
                decided_by=ids["user"],
                decided_at=datetime.now(UTC),
            )
            .returning(CallerReview.id)
        )
    ).scalar_one()
