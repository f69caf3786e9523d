"""Text-to-112 in the national figures (issue 23): SMS and WhatsApp conversations are calls, in
the headline totals, and reported separately by channel on the dashboard, in the API and the CSV;
the fold and a recount agree per channel."""

from __future__ import annotations

import csv
import io
from datetime import timedelta

from sqlalchemy import select

from app.national.models import national_daily_channel
from tests.national.conftest import _ctx_run, ts

PROVINCE = "Maluku Utara"  # no other national test registers tenants here
DAY = 20


def q() -> dict:
    return {"from": f"2025-03-{DAY - 1}", "to": f"2025-03-{DAY + 1}", "province": PROVINCE}


async def _call(db, tenant, user, hour: int, channel: str, answer_s: int | None):
    from app.calls import service
    from app.calls.schemas import CallCreate

    received = ts(hour, day=DAY)
    data = CallCreate(
        caller_number="+6281234567890",
        channel=channel,
        received_at=received,
        answered_at=received + timedelta(seconds=answer_s) if answer_s is not None else None,
    )
    return await _ctx_run(db, tenant, user, service.create_call, data)


async def _channel_rows(db, tenant_id: int) -> list[dict]:
    async with db.public() as s:
        rows = (
            await s.execute(
                select(national_daily_channel).where(national_daily_channel.c.tenant_id == tenant_id)
            )
        ).mappings()
        return sorted((dict(r) for r in rows), key=lambda r: (r["day"], r["channel"]))


async def test_text_conversations_are_counted_and_reported_by_channel(
    app, db, regional_tenant, user_factory, kominfo_client
):
    from app.national.rollup import fold, rebuild_tenant

    t = await regional_tenant(PROVINCE, "WIT")
    u = await user_factory(t, "operator")
    for hour, channel, answer in (
        (1, "voice", 5),
        (2, "voice", 40),
        (3, "sms", 30),
        (4, "whatsapp", 20),
        (5, "whatsapp", None),  # a message nobody answered
    ):
        await _call(db, t, u, hour, channel, answer)
    await fold(db)
    folded = await _channel_rows(db, t.id)
    assert {(r["channel"], r["calls_total"], r["calls_answered"]) for r in folded} == {
        ("voice", 2, 2),
        ("sms", 1, 1),
        ("whatsapp", 2, 1),
    }
    await rebuild_tenant(db, t.slug)  # a recount from the tenant's calls gives the same rows
    assert await _channel_rows(db, t.id) == folded

    summary = (await kominfo_client.get("/api/v1/national/summary", params=q())).json()
    assert summary["figures"]["calls"] == 5  # text conversations are in the headline total
    by_channel = {c["channel"]: c for c in summary["calls_by_channel"]}
    assert [c["channel"] for c in summary["calls_by_channel"]] == ["voice", "whatsapp", "sms"]
    assert by_channel["voice"] == {
        "channel": "voice",
        "calls": 2,
        "answered": 2,
        "answer_avg_s": 22.5,
        "answer_p90_s": by_channel["voice"]["answer_p90_s"],
    }
    assert by_channel["voice"]["answer_p90_s"] >= 40
    assert (by_channel["whatsapp"]["calls"], by_channel["whatsapp"]["answered"]) == (2, 1)
    assert by_channel["sms"]["answer_avg_s"] == 30.0

    page = await kominfo_client.get("/national", params=q(), headers={"accept": "text/html"})
    assert page.status_code == 200
    table = page.text[page.text.index('id="channels-table"') :]
    table = table[: table.index("</table>")]
    assert "Telepon" in table
    assert "WhatsApp" in table and "SMS" in table
    assert '<tr data-channel="whatsapp">' in table

    exported = await kominfo_client.get("/national/export/channels.csv", params=q())
    assert exported.status_code == 200
    rows = list(csv.DictReader(io.StringIO(exported.text)))
    assert {(r["channel"], r["calls"], r["answered"]) for r in rows} == {
        ("voice", "2", "2"),
        ("whatsapp", "2", "1"),
        ("sms", "1", "1"),
    }
