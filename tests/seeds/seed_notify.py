from sqlalchemy import insert

from app.notify.models import Notification, WebhookDelivery


async def seed(session, ids: dict, marker: str) -> None:
    ids["notification"] = (
        await session.execute(
            insert(Notification)
            .values(
                audience="supervisors",
                kind="sla.breached",
                level=1,
                title=f"seed {marker}",
                data={},
                dedupe_key=f"seed-{marker}",
            )
            .returning(Notification.id)
        )
    ).scalar_one()
    ids["delivery"] = (
        await session.execute(
            insert(WebhookDelivery)
            .values(
                opd_id=ids["opd"],
                event="sla.breached",
                payload={"marker": marker},
                dedupe_key=f"seed-{marker}",
                status="delivered",
                attempts=1,
            )
            .returning(WebhookDelivery.id)
        )
    ).scalar_one()
