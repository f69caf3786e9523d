"""End to end through the call workflow's own API: its events start and stop the SLA clocks."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

from sqlalchemy import select

from app.dispatch.models import Category, Opd
from app.sla.models import SlaClock


async def test_call_incident_dispatch_ack_resolve_via_api(db, tenant_factory, logged_in, arq_pool):
    t = await tenant_factory()
    op = await logged_in(t, "operator")
    staff = await logged_in(t, "opd_staff", "damkar")
    async with db.tenant(t.slug) as s:
        fire = (await s.execute(select(Category.id).where(Category.code == "fire"))).scalar_one()
        damkar = (await s.execute(select(Opd.id).where(Opd.code == "damkar"))).scalar_one()
    now = datetime.now(UTC)
    base = f"/api/v1/t/{t.slug}"
    call = await op.post(
        f"{base}/calls",
        json={
            "caller_number": "+6281234567890",
            "outcome": "emergency",
            "received_at": (now - timedelta(seconds=30)).isoformat(),
            "answered_at": (now - timedelta(seconds=10)).isoformat(),
        },
    )
    assert call.status_code == 201, call.text
    inc = await op.post(
        f"{base}/incidents", json={"category_id": fire, "priority": 1, "call_id": call.json()["id"]}
    )
    assert inc.status_code == 201, inc.text
    disp = await op.post(f"{base}/incidents/{inc.json()['id']}/dispatches", json={"opd_ids": [damkar]})
    assert disp.status_code == 201, disp.text
    d_id = disp.json()[0]["id"]
    ack = await staff.post(f"{base}/dispatches/{d_id}/transition", json={"status": "acknowledged"})
    assert ack.status_code == 200, ack.text

    async with db.tenant(t.slug) as s:
        clocks = {c.kind: c for c in (await s.execute(select(SlaClock))).scalars()}
    assert set(clocks) == {"answer", "dispatch", "acknowledge", "arrival", "resolution"}
    answer = clocks["answer"]
    assert answer.met is False and answer.actual_ms == 20_000 and answer.overrun_ms == 5_000  # 20 s > 15 s
    assert clocks["dispatch"].met is True and clocks["dispatch"].call_id == call.json()["id"]
    assert clocks["acknowledge"].met is True and clocks["acknowledge"].opd_id == damkar
    assert clocks["arrival"].stopped_at is None and clocks["arrival"].next_due_at is not None
    for step in ("en_route", "on_scene", "resolved"):
        r = await staff.post(f"{base}/dispatches/{d_id}/transition", json={"status": step})
        assert r.status_code == 200, r.text
    async with db.tenant(t.slug) as s:
        clocks = {c.kind: c for c in (await s.execute(select(SlaClock))).scalars()}
    assert all(c.stopped_at is not None and c.next_due_at is None for c in clocks.values())
    assert clocks["arrival"].met is True and clocks["resolution"].met is True
