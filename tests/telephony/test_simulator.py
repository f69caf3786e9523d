"""The gateway simulator drives a real server (uvicorn) through the signed webhook."""

from __future__ import annotations

import dataclasses
from collections import Counter

from sqlalchemy import select

from app.calls.models import Call
from app.telephony import simulator
from app.telephony.models import AmlLocation


def test_same_seed_same_day_and_a_flood_spike():
    a, b = simulator.build_day(seed=7), simulator.build_day(seed=7)
    assert [(e.offset, e.kind, e.call_id, e.caller) for e in a.events] == [
        (e.offset, e.kind, e.call_id, e.caller) for e in b.events
    ]
    assert simulator.build_day(seed=8).events != a.events
    flood = simulator.build_day(seed=7, flood=True)
    per_hour = {}
    for e in flood.events:
        if e.kind == "ringing":
            per_hour[int(e.offset // 3600)] = per_hour.get(int(e.offset // 3600), 0) + 1
    assert max(per_hour.values()) >= 200
    share = (flood.kinds["silent"] + flood.kinds["prank"] + flood.kinds["abandoned"]) / flood.calls
    assert 0.7 <= share <= 0.9


async def test_replay_against_a_running_server(live_server, db, tel):
    scenario = simulator.build_day(seed=3, calls=30)
    report = await simulator.replay(scenario, live_server, tel.slug, tel.secret, speed=0, concurrency=8)
    assert report.errors == [] and report.sent == len(scenario.events)
    ids = {e.call_id for e in scenario.events}
    async with db.tenant(tel.slug) as s:
        calls = (await s.execute(select(Call).where(Call.external_id.in_(ids)))).scalars().all()
        callers = {e.caller for e in scenario.events}
        aml_rows = (
            (await s.execute(select(AmlLocation).where(AmlLocation.caller_number.in_(callers))))
            .scalars()
            .all()
        )
    assert len(calls) == scenario.calls
    assert all(c.telephony_state in ("ended", "missed") for c in calls)
    assert sum(c.telephony_state == "missed" for c in calls) == scenario.kinds["abandoned"]
    assert sum(c.silent_suspected for c in calls) == scenario.kinds["silent"]
    assert len(aml_rows) == sum(1 for e in scenario.events if e.kind == "aml") > 0
    # A day replayed at speed=0 ends now: its positions are hours old, beyond any live call.
    # The calls of the last minutes get theirs, every one (one call's events are replayed in
    # order; they used to be raced, and a position attached only when it overtook the ringing).
    day = simulator.build_day(seed=4, calls=40)
    with_aml = {e.call_id for e in day.events if e.kind == "aml"}
    rung = {e.call_id: e.offset for e in day.events if e.kind == "ringing"}
    recent = sorted(  # each of those calls moved to the last minutes
        dataclasses.replace(e, offset=e.offset - rung[e.call_id]) for e in day.events if e.call_id in with_aml
    )
    assert recent
    report = await simulator.replay(
        simulator.Scenario(recent, len(with_aml), Counter()), live_server, tel.slug, tel.secret, speed=0
    )
    assert report.errors == []
    async with db.tenant(tel.slug) as s:
        positions = (
            await s.execute(
                select(AmlLocation.call_id).where(
                    AmlLocation.caller_number.in_({e.caller for e in recent if e.kind == "aml"})
                )
            )
        ).all()
    assert len(positions) == len(with_aml) and all(call_id is not None for (call_id,) in positions)
    # Replaying the same day again is refused event by event (replay protection), nothing changes.
    again = await simulator.replay(scenario, live_server, tel.slug, tel.secret, speed=0, concurrency=8)
    assert set(again.statuses) <= {409, 201}
