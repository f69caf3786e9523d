"""Silent and prank triage: flags from event timings, per-tenant caller reputation, watch list.

Nothing here ever blocks a call: a number with a bad reputation may still be in real danger,
so the console only WARNS the operator.
"""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

from sqlalchemy import func, or_, select
from sqlalchemy.ext.asyncio import AsyncSession

from app.calls.models import Call
from app.telephony.models import WatchEntry

SILENT_MAX_S = 10  # answered, then gone within 10 s with nothing logged: most likely silent
REPUTATION_DAYS = 30


def looks_silent(call: Call) -> bool:
    """Answered, not transferred, ended within SILENT_MAX_S, no outcome other than our own flag."""
    if call.answered_at is None or call.ended_at is None or call.transferred_at is not None:
        return False
    if call.outcome not in (None, "silent"):
        return False
    return (call.ended_at - call.answered_at).total_seconds() < SILENT_MAX_S


def apply_silent_flag(call: Call) -> None:
    """Set (or withdraw, when a late event changes the timings) the automatic silent flag."""
    if looks_silent(call):
        if call.outcome is None:
            call.outcome = "silent"
            call.silent_suspected = True
    elif call.silent_suspected:
        call.silent_suspected = False
        if call.outcome == "silent":
            call.outcome = None


async def reputation(
    session: AsyncSession, numbers: list[str], now: datetime | None = None
) -> dict[str, int]:
    """Prank/silent calls per number in the last 30 days (one grouped query for any number of callers)."""
    if not numbers:
        return {}
    since = (now or datetime.now(UTC)) - timedelta(days=REPUTATION_DAYS)
    rows = await session.execute(
        select(Call.caller_number, func.count())
        .where(
            Call.caller_number.in_(set(numbers)),
            Call.received_at >= since,
            or_(Call.outcome.in_(("prank", "silent")), Call.silent_suspected.is_(True)),
        )
        .group_by(Call.caller_number)
    )
    return {number: count for number, count in rows.all()}


async def watch_entries(session: AsyncSession, numbers: list[str]) -> dict[str, WatchEntry]:
    if not numbers:
        return {}
    rows = await session.execute(
        select(WatchEntry).where(WatchEntry.caller_number.in_(set(numbers)), WatchEntry.removed_at.is_(None))
    )
    return {w.caller_number: w for w in rows.scalars().all()}


def warning_level(prank_count: int, watched: bool) -> str:
    """'watch' (supervisor flag), 'repeat' (3+ prank/silent in 30 days), 'some', or ''."""
    if watched:
        return "watch"
    if prank_count >= 3:
        return "repeat"
    return "some" if prank_count else ""
