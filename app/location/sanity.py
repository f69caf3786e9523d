"""Plausibility of a caller position before it may become the position a call shows.

A fix is FLAGGED (kept, shown as doubtful, never chosen) when its time is in the future (a
handset with a wrong clock would otherwise win every "newest fix" comparison for good), when it
was taken well before the call began (a cached position of somewhere the caller was earlier), or
when it lies far outside the regency's area (`app.location.area`). Flags are codes; labels are
Indonesian for the console.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime, timedelta

from app.location.area import far_outside

FUTURE = "future"
BEFORE_CALL = "before_call"
OUTSIDE_AREA = "outside_area"
LABELS = {
    FUTURE: "waktu posisi di masa depan",
    BEFORE_CALL: "posisi lebih lama dari panggilan",
    OUTSIDE_AREA: "jauh di luar wilayah",
}
# Handset and server clocks differ a little; a GNSS fix may be taken just before dialling.
FUTURE_TOLERANCE = timedelta(seconds=60)
BEFORE_CALL_TOLERANCE = timedelta(minutes=2)
# Among unflagged fixes taken within this span of the newest one, the most accurate wins.
RECENT = timedelta(minutes=10)


def check(
    *,
    positioned_at: datetime,
    received_at: datetime,
    call_started_at: datetime | None,
    lat: float | None,
    lon: float | None,
    region_code: str | None,
) -> list[str]:
    flags = []
    if positioned_at > received_at + FUTURE_TOLERANCE:
        flags.append(FUTURE)
    if call_started_at is not None and positioned_at < call_started_at - BEFORE_CALL_TOLERANCE:
        flags.append(BEFORE_CALL)
    if lat is not None and lon is not None and far_outside(region_code, lat, lon):
        flags.append(OUTSIDE_AREA)
    return flags


def describe(flags: list[str] | None) -> str:
    return ", ".join(LABELS.get(f, f) for f in flags or [])


@dataclass(frozen=True)
class Fix:
    source: str  # "aml" | "link" | "whatsapp"
    lat: float
    lon: float
    radius_m: float
    positioned_at: datetime
    flags: tuple[str, ...] = ()


def best(fixes: list[Fix]) -> Fix | None:
    """The fix a call shows: unflagged only; among those taken within ``RECENT`` of the newest,
    the smallest accuracy radius (ties: the newer). A newer real fix therefore always displaces a
    bogus future-dated one, which never competes."""
    good = [f for f in fixes if not f.flags]
    if not good:
        return None
    newest = max(f.positioned_at for f in good)
    recent = [f for f in good if f.positioned_at >= newest - RECENT]
    return min(recent, key=lambda f: (f.radius_m, -f.positioned_at.timestamp()))
