"""Idempotent creation for the API: a client that retries with the same ``Idempotency-Key``
gets what its first request created (calls use their ``external_id`` instead, in the intake
statement itself).

The key row is written in the SAME transaction as what it records, just before the commit
(``remember``). A concurrent repeat's insert waits on that row; when the first commits, the
repeat finds the key taken, raises ``Repeated`` and its own transaction is rolled back: one
set of rows, whichever order the requests arrive in.
"""

from __future__ import annotations

from sqlalchemy import select
from sqlalchemy.dialects.postgresql import insert as pg_insert
from sqlalchemy.ext.asyncio import AsyncSession

from app.calls.models import IdempotencyKey
from app.db.direct import Direct


def _remember_statement():
    """Through Direct: SQLAlchemy never caches its PostgreSQL INSERT (tests/db/test_compiled_once.py)."""
    table = IdempotencyKey.__table__
    return pg_insert(table).on_conflict_do_nothing(index_elements=["scope", "key"]).returning(table.c.key)


_REMEMBER = Direct(_remember_statement)


class Repeated(Exception):
    """The key was used by a request that committed first; ``ids`` is what that one created."""

    def __init__(self, ids: list[int]):
        super().__init__(f"idempotency key already used: {ids}")
        self.ids = ids


async def stored(session: AsyncSession, scope: str, key: str | None) -> list[int] | None:
    if key is None:
        return None
    return (
        await session.execute(
            select(IdempotencyKey.entity_ids).where(IdempotencyKey.scope == scope, IdempotencyKey.key == key)
        )
    ).scalar_one_or_none()


async def remember(session: AsyncSession, scope: str, key: str | None, ids: list[int]) -> None:
    """Record ``key`` → ``ids`` in the current transaction; ``Repeated`` if it is taken."""
    if key is None:
        return
    inserted = await _REMEMBER.first(session, {"scope": scope, "key": key, "entity_ids": ids})
    if inserted is None:
        raise Repeated(await stored(session, scope, key) or [])
