"""start_clocks writes a batch of clocks in one statement: each measured target gets exactly one
clock, with exact times, and the caller learns which ones it started."""

from __future__ import annotations

import random
from datetime import UTC, datetime, timedelta

from sqlalchemy import select

from app.sla.models import SlaClock
from app.sla.service import start_clocks


def _answer(subject_id: int, at: datetime) -> dict:
    return dict(
        kind="answer", subject="call", subject_id=subject_id, started_at=at, priority=1, category_id=None
    )


async def test_a_batch_starts_one_clock_per_target_with_exact_times(db, tenant_a):
    base = random.randint(10**9, 2 * 10**9)  # subjects no other test uses (tenant_a is shared)
    at = datetime(2026, 11, 24, 3, 4, 5, 678901, tzinfo=UTC)
    async with db.tenant(tenant_a.slug) as s:
        started = await start_clocks(
            s,
            tenant_a,
            [_answer(base, at), _answer(base + 1, at + timedelta(seconds=1)), _answer(base, at)],
        )  # the same target twice
        await s.commit()
    assert started == [True, True, False]

    async with db.tenant(tenant_a.slug) as s:
        again = await start_clocks(s, tenant_a, [_answer(base + 1, at), _answer(base + 2, at)])
        await s.commit()
        clocks = (
            (
                await s.execute(
                    select(SlaClock).where(
                        SlaClock.kind == "answer", SlaClock.subject_id.in_([base, base + 1, base + 2])
                    )
                )
            )
            .scalars()
            .all()
        )
    assert again == [False, True]  # an existing clock is not started twice
    assert sorted(c.subject_id for c in clocks) == [base, base + 1, base + 2]
    first = next(c for c in clocks if c.subject_id == base)
    assert first.started_at == at  # microseconds survive the batch encoding
    assert first.deadline == at + timedelta(seconds=first.target_s) and first.target_s > 0
    assert first.next_due_at == min(first.warn_at, first.deadline) and first.stopped_at is None
