"""Seed rows for the channels domain's tenant tables (config, contact, push subscription,
outbox message, webhook event)."""

from sqlalchemy import insert

from app.channels.models import (
    ChannelConfig,
    ChannelContact,
    ChannelMessage,
    ChannelWebhookEvent,
    PushSubscription,
)


async def seed(session, ids: dict, marker: str) -> None:
    ids["channel_config"] = (
        await session.execute(
            insert(ChannelConfig)
            .values(channel="sms", enabled=False, settings={"url": f"https://{marker}.example/sms"})
            .returning(ChannelConfig.id)
        )
    ).scalar_one()
    ids["channel_contact"] = (
        await session.execute(
            insert(ChannelContact)
            .values(
                opd_id=ids["opd"],
                name=f"Kontak {marker}",
                role="duty",
                channels=[{"channel": "sms", "address": "+6281200000009"}],
                days="1234567",
                is_active=True,
            )
            .returning(ChannelContact.id)
        )
    ).scalar_one()
    ids["push_subscription"] = (
        await session.execute(
            insert(PushSubscription)
            .values(
                user_id=ids["user"],
                opd_id=ids["opd"],
                endpoint=f"https://fcm.googleapis.com/fcm/send/{marker}",
                subscription={"endpoint": f"https://fcm.googleapis.com/fcm/send/{marker}", "keys": {}},
                is_active=True,
            )
            .returning(PushSubscription.id)
        )
    ).scalar_one()
    ids["channel_message"] = (
        await session.execute(
            insert(ChannelMessage)
            .values(
                dedupe_key=f"seed:{marker}",
                kind="text",
                recipient=f"Kontak {marker}",
                channel="sms",
                address="+6281200000009",
                step=0,
                status="sent",
                attempts=1,
                body={"text": marker},
                contact_id=ids["channel_contact"],
            )
            .returning(ChannelMessage.id)
        )
    ).scalar_one()
    await session.execute(insert(ChannelWebhookEvent).values(channel="whatsapp", event_id=f"seed-{marker}"))
