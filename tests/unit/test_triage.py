"""Triage rules of a telephony call: the automatic 'silent' flag and the caller warning level."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import UTC, datetime, timedelta

import pytest

from app.telephony.triage import SILENT_MAX_S, apply_silent_flag, looks_silent, warning_level

T0 = datetime(2026, 12, 3, 10, 0, tzinfo=UTC)


@dataclass
class FakeCall:
    """The fields the rules read and write, without a database row."""

    answered_at: datetime | None = T0
    ended_at: datetime | None = T0 + timedelta(seconds=4)
    transferred_at: datetime | None = None
    outcome: str | None = None
    silent_suspected: bool = False


def test_answered_then_gone_quickly_with_nothing_logged_looks_silent():
    assert looks_silent(FakeCall())
    assert not looks_silent(FakeCall(ended_at=T0 + timedelta(seconds=SILENT_MAX_S)))
    assert not looks_silent(FakeCall(answered_at=None))
    assert not looks_silent(FakeCall(ended_at=None))
    assert not looks_silent(FakeCall(transferred_at=T0 + timedelta(seconds=1)))
    assert not looks_silent(FakeCall(outcome="emergency"))


def test_the_flag_is_set_and_withdrawn_when_later_events_change_the_timings():
    call = FakeCall()
    apply_silent_flag(call)
    assert (call.outcome, call.silent_suspected) == ("silent", True)
    call.ended_at = T0 + timedelta(minutes=3)  # a late 'ended' event: a real conversation
    apply_silent_flag(call)
    assert (call.outcome, call.silent_suspected) == (None, False)


def test_an_operators_own_outcome_is_never_overwritten():
    call = FakeCall(outcome="prank")
    apply_silent_flag(call)
    assert (call.outcome, call.silent_suspected) == ("prank", False)
    chosen = FakeCall(outcome="silent", ended_at=T0 + timedelta(minutes=2))  # chosen by the operator
    apply_silent_flag(chosen)
    assert chosen.outcome == "silent"


@pytest.mark.parametrize(
    "pranks,watched,level",
    [(0, False, ""), (1, False, "some"), (2, False, "some"), (3, False, "repeat"), (0, True, "watch")],
)
def test_warning_level(pranks, watched, level):
    assert warning_level(pranks, watched) == level
