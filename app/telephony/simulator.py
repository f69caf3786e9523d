"""Gateway simulator: replays a realistic day of 112 calls through the signed webhook of a running server.

Calibrated on Kota Solok's trial (1,796 calls in Oct–Dec 2019, ≈20 a day) and on the national
picture (70–90 % of calls prank or silent, a core of repeat pranksters); a flood day adds a
spike of hundreds of calls an hour. Seedable (same seed → same day), with a speed factor:
``speed=1`` is live (event times are the real send times: consoles ring as it happens),
``speed=60`` plays an hour a minute, ``speed=0`` sends as fast as the server takes it. Event
times keep their real spacing at any speed, so silent-call detection sees true durations, and one
call's events are always sent in order (many calls side by side), as a gateway signals them.
"""

from __future__ import annotations

import asyncio
import json
import random
import time
import uuid
import zlib
from collections import Counter
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta

import httpx

from app.telephony.aml import AmlMessage, format_message
from app.telephony.signing import signed_headers

DAY_S = 24 * 3600 - 15 * 60  # the last calls may run a few minutes past the day
# Relative call volume per hour of day (WIB): quiet nights, school-age pranks in the afternoon.
HOURLY = [2, 1, 1, 1, 1, 2, 4, 6, 7, 8, 8, 8, 9, 10, 11, 11, 10, 9, 9, 8, 7, 5, 4, 3]
SOLOK_CENTRE = (-0.7893, 100.6543)
TRUNKS = ("tsel-solok-1", "isat-solok-1", "xl-solok-1", "tri-solok-1", "smartfren-solok-1")
PREFIXES = ("811", "812", "813", "821", "822", "852", "853", "857", "858", "877", "878", "896", "898")


@dataclass(order=True)
class SimEvent:
    offset: float  # seconds since the start of the simulated day
    kind: str = field(compare=False)  # ringing|answered|transferred|ended|aml
    call_id: str = field(compare=False)
    caller: str = field(compare=False)
    extension: str | None = field(default=None, compare=False)
    position: tuple[float, float, float] | None = field(default=None, compare=False)


@dataclass
class Scenario:
    events: list[SimEvent]
    calls: int
    kinds: Counter

    @property
    def span_s(self) -> float:
        return max((e.offset for e in self.events), default=0.0)


def _number(rng: random.Random) -> str:
    return "+62" + rng.choice(PREFIXES) + "".join(rng.choice("0123456789") for _ in range(rng.choice((7, 8))))


def _start_times(rng: random.Random, n: int, flood: bool) -> list[float]:
    times = [(rng.choices(range(24), HOURLY)[0] + rng.random()) * 3600 for _ in range(n)]
    if flood:
        # Heavy rain from 15:00: a spike peaking around 17:00 (several hundred calls an hour).
        times += [min(DAY_S - 1, max(0.0, rng.gauss(17 * 3600, 2700))) for _ in range(n * 40)]
    return sorted(times)


def build_day(
    seed: int = 112, calls: int = 20, flood: bool = False, prank_ratio: float = 0.8, aml_share: float = 0.6
) -> Scenario:
    """The events of one day, in time order. ``calls`` is the ordinary daily volume (Solok ≈ 20)."""
    rng = random.Random(seed)
    pranksters = [_number(rng) for _ in range(max(3, calls // 2))]
    events: list[SimEvent] = []
    kinds: Counter = Counter()
    for start in _start_times(rng, calls, flood):
        call_id = f"sim-{seed}-{uuid.UUID(int=rng.getrandbits(128)).hex[:16]}"
        r = rng.random()
        if r < prank_ratio:
            kind = rng.choices(("silent", "prank", "abandoned"), (0.5, 0.35, 0.15))[0]
        else:
            kind = rng.choices(("emergency", "info", "abandoned"), (0.75, 0.2, 0.05))[0]
        caller = (
            rng.choice(pranksters) if kind in ("silent", "prank") and rng.random() < 0.5 else _number(rng)
        )
        kinds[kind] += 1
        ext = str(rng.randint(201, 206))
        ring = rng.uniform(3, 15)
        events.append(SimEvent(start, "ringing", call_id, caller))
        if kind == "abandoned":
            events.append(SimEvent(start + rng.uniform(4, 40), "ended", call_id, caller))
            continue
        answered = start + ring
        events.append(SimEvent(answered, "answered", call_id, caller, extension=ext))
        talk = {
            "silent": rng.uniform(2, 9),
            "prank": rng.uniform(12, 70),
            "info": rng.uniform(40, 180),
            "emergency": rng.uniform(60, 420),
        }[kind]
        if kind == "emergency":
            if rng.random() < aml_share:  # the handset's AML arrives seconds after dialling
                lat = SOLOK_CENTRE[0] + rng.gauss(0, 0.012)
                lon = SOLOK_CENTRE[1] + rng.gauss(0, 0.012)
                radius = rng.choice((5, 8, 12, 15, 25, 40, 120))
                events.append(
                    SimEvent(start + rng.uniform(2, 8), "aml", call_id, caller, position=(lat, lon, radius))
                )
            if rng.random() < 0.3:
                events.append(SimEvent(answered + talk * 0.7, "transferred", call_id, caller, extension=ext))
        events.append(SimEvent(answered + talk, "ended", call_id, caller))
    events.sort()
    return Scenario(events, sum(kinds.values()), kinds)


def event_body(ev: SimEvent, occurred_at: datetime) -> dict:
    if ev.kind == "aml":
        assert ev.position is not None  # every AML event of a scenario has one
        lat, lon, radius = ev.position
        msg = AmlMessage(
            lat=round(lat, 6),
            lon=round(lon, 6),
            radius_m=float(radius),
            positioned_at=occurred_at.replace(microsecond=0),
            confidence=68,
            method="G",
            imsi="5101" + ev.caller[-11:].rjust(11, "0"),
            imei=None,
            mcc="510",
            mnc="10",
        )
        return {"caller_number": ev.caller, "message": format_message(msg)}
    body = {
        "event_id": f"{ev.call_id}-{ev.kind}",
        "type": ev.kind,
        "call_id": ev.call_id,
        "caller_number": ev.caller,
        "called_number": "112",
        "trunk": TRUNKS[zlib.crc32(ev.call_id.encode()) % len(TRUNKS)],
        "occurred_at": occurred_at.isoformat(),
    }
    if ev.extension:
        body["operator_extension"] = ev.extension
    return body


@dataclass
class Report:
    sent: int = 0
    statuses: Counter = field(default_factory=Counter)
    latencies_ms: list[float] = field(default_factory=list)
    errors: list[str] = field(default_factory=list)
    seconds: float = 0.0

    def percentile(self, p: float) -> float:
        if not self.latencies_ms:
            return 0.0
        data = sorted(self.latencies_ms)
        return data[min(len(data) - 1, round(p / 100 * (len(data) - 1)))]


async def replay(
    scenario: Scenario,
    base_url: str,
    slug: str,
    secret: str,
    speed: float = 60.0,
    concurrency: int = 16,
    client: httpx.AsyncClient | None = None,
    on_progress=None,
) -> Report:
    """Send every event, signed, keeping event times realistic (see module docstring)."""
    span = scenario.span_s
    lag = span if speed <= 0 else span * (1 - 1 / speed)
    wall0 = time.monotonic()
    start = datetime.now(UTC) - timedelta(seconds=lag)
    sem = asyncio.Semaphore(concurrency)
    report = Report()
    own = client is None
    client = client or httpx.AsyncClient(
        base_url=base_url, timeout=30.0, limits=httpx.Limits(max_connections=concurrency)
    )

    async def send(ev: SimEvent, after: asyncio.Task | None) -> None:
        # A gateway signals one call's events in order (ringing before answered before ended, AML
        # while the call is up), however fast it replays many calls side by side.
        if after is not None:
            await after
        occurred = start + timedelta(seconds=ev.offset)
        path = "aml" if ev.kind == "aml" else "events"
        body = json.dumps(event_body(ev, occurred)).encode()
        headers = {"content-type": "application/json", **signed_headers(secret, body)}
        async with sem:
            t0 = time.perf_counter()
            try:
                resp = await client.post(f"/api/v1/t/{slug}/telephony/{path}", content=body, headers=headers)
                report.statuses[resp.status_code] += 1
                if resp.status_code >= 400 and len(report.errors) < 20:
                    report.errors.append(f"{resp.status_code} {path}: {resp.text[:200]}")
            except httpx.HTTPError as exc:
                report.statuses["error"] += 1
                report.errors.append(repr(exc)[:200])
            finally:
                report.latencies_ms.append((time.perf_counter() - t0) * 1000)
                report.sent += 1
                if on_progress:
                    on_progress(report)

    tasks = []
    last_of_call: dict[str, asyncio.Task] = {}
    try:
        for ev in scenario.events:
            if speed > 0:
                delay = wall0 + ev.offset / speed - time.monotonic()
                if delay > 0:
                    await asyncio.sleep(delay)
            task = asyncio.create_task(send(ev, last_of_call.get(ev.call_id)))
            last_of_call[ev.call_id] = task
            tasks.append(task)
        await asyncio.gather(*tasks)
    finally:
        report.seconds = time.monotonic() - wall0
        if own:
            await client.aclose()
    return report
