"""The batch statements find their rows by index, whatever the size of the table.

A recordset (``jsonb_to_recordset``) is always guessed at 100 rows, so an UPDATE joined only to
one was planned as a hash join over the WHOLE table: the webhook's write-back of its calls took
2.2 ms a batch on a 7,500-call table (0.25 ms once found by id), and stopping answer clocks by
(kind, subject, subject_id) had no index at all, so every batch read every clock ever kept;
a late event's change of callback tasks was the same join as the calls'.
"""

from __future__ import annotations

from datetime import UTC, datetime

from sqlalchemy import text

from app.db import uow
from app.db.tenancy import schema_for
from app.sla.service import _STOP_MANY
from app.telephony.intake import _CHANGE_TASKS, _WRITE, _WRITE_COLS

ROWS = 3000


async def _fill(db, tenant) -> list[int]:
    """ROWS calls, an answer clock each, and fresh statistics (as autovacuum would leave them)."""
    schema = schema_for(tenant.slug)
    async with db.tenant(tenant.slug) as s:
        ids = (
            (
                await s.execute(
                    text(
                        f'INSERT INTO "{schema}".calls (caller_number, channel, language) '
                        "SELECT '+62812' || lpad(n::text, 7, '0'), 'voice', 'id' "
                        f"FROM generate_series(1, {ROWS}) AS n RETURNING id"
                    )
                )
            )
            .scalars()
            .all()
        )
        # Open answer clocks due a year from now: SQL, not start_clocks, so that no timer job and
        # no reconciliation of a later test's worker ever has 3,000 of them to run.
        await s.execute(
            text(
                f'INSERT INTO "{schema}".sla_clocks (key, kind, subject, subject_id, call_id, priority, '
                "target_s, warning_pct, escalation_delay_s, started_at, warn_at, deadline, escalate_at, "
                "next_due_at, escalation_level) "
                "SELECT 'answer:call:' || id, 'answer', 'call', id, id, 1, 10, 50, 60, now(), "
                "now() + interval '1 year', now() + interval '1 year', now() + interval '1 year', "
                f"now() + interval '1 year', 0 FROM \"{schema}\".calls"
            )
        )
        await s.execute(
            text(
                f'INSERT INTO "{schema}".callback_tasks (call_id, caller_number, status) '
                f"SELECT id, caller_number, 'open' FROM \"{schema}\".calls"
            )
        )
        await uow.commit(s)
    async with db.engine.connect() as conn:
        await conn.execute(text(f'ANALYZE "{schema}".callback_tasks'))
        await conn.execute(text(f'ANALYZE "{schema}".calls'))
        await conn.execute(text(f'ANALYZE "{schema}".sla_clocks'))
        await conn.commit()
    return list(ids)


async def test_the_batch_updates_use_an_index_on_a_large_table(db, tenant_factory):
    tenant = await tenant_factory(prefix="tplan")
    ids = (await _fill(db, tenant))[-4:]
    now = datetime.now(UTC)
    async with db.tenant(tenant.slug) as s:
        write = await _WRITE.explain(
            s,
            {
                "ids": ids,
                "calls": [{"id": i, **dict.fromkeys(_WRITE_COLS)} for i in ids],
                "log": [
                    {"entity_id": i, "kind": "telephony.ended", "data": {}, "i": n} for n, i in enumerate(ids)
                ],
            },
        )
        stop = await _STOP_MANY.explain(
            s,
            {
                "keys": [f"answer:call:{i}" for i in ids],
                "stops": [
                    {"kind": "answer", "subject": "call", "subject_id": i, "at": now, "reason": "done"}
                    for i in ids
                ],
            },
        )
        tasks = [
            r.id
            for r in await s.execute(
                text(f'SELECT id FROM "{schema_for(tenant.slug)}".callback_tasks ORDER BY id DESC LIMIT 4')
            )
        ]
        change = await _CHANGE_TASKS.explain(
            s, {"ids": tasks, "tasks": [{"id": i, "status": "void", "note": None} for i in tasks]}
        )
    assert "Seq Scan on calls" not in write, write
    assert "pk_calls" in write, write
    assert "Seq Scan on sla_clocks" not in stop, stop
    assert "Index" in stop, stop
    assert "Seq Scan on callback_tasks" not in change, change
