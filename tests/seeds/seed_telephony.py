from datetime import UTC, datetime

from sqlalchemy import insert

from app.telephony.models import AmlLocation, CallbackTask, TelephonyEvent, WatchEntry, WebhookSecret


async def seed(session, ids: dict, marker: str) -> None:
    now = datetime.now(UTC)
    ids["telephony_secret"] = (
        await session.execute(
            insert(WebhookSecret)
            .values(secret=f"seed-secret-{marker}", created_by=ids["user"])
            .returning(WebhookSecret.id)
        )
    ).scalar_one()
    ids["telephony_event"] = (
        await session.execute(
            insert(TelephonyEvent)
            .values(
                event_id=f"seed-evt-{marker}",
                kind="ringing",
                external_call_id=f"seed-call-{marker}",
                occurred_at=now,
            )
            .returning(TelephonyEvent.id)
        )
    ).scalar_one()
    ids["aml"] = (
        await session.execute(
            insert(AmlLocation)
            .values(
                call_id=ids["call"],
                caller_number="+6281200000001",
                lat=-0.79,
                lon=100.65,
                radius_m=15,
                positioned_at=now,
                confidence=68,
                method="G",
                mcc="510",
                mnc="10",
                raw=f"seed {marker}",
            )
            .returning(AmlLocation.id)
        )
    ).scalar_one()
    ids["task"] = (
        await session.execute(
            insert(CallbackTask)
            .values(call_id=ids["call"], caller_number="+6281200000001", status="open", note=f"seed {marker}")
            .returning(CallbackTask.id)
        )
    ).scalar_one()
    # Removed, so the isolation suite's row copy does not collide with the one-active-entry index.
    ids["entry"] = (
        await session.execute(
            insert(WatchEntry)
            .values(
                caller_number="+6281200000001",
                reason=f"seed {marker}",
                created_by=ids["user"],
                removed_at=now,
                removed_by=ids["user"],
            )
            .returning(WatchEntry.id)
        )
    ).scalar_one()
