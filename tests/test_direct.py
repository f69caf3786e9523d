"""app.db.direct: hot-path statements on the session's own psycopg connection keep the guarantees
of every other statement: bound to the session's tenant, inside its transaction, SQLAlchemy errors."""
from __future__ import annotations

import uuid

import pytest
from sqlalchemy import bindparam, func, select
from sqlalchemy.dialects.postgresql import insert
from sqlalchemy.exc import DataError, IntegrityError, ProgrammingError

from app.calls.models import Call
from app.db.direct import Direct

_NUMBERS = Direct(select(Call.caller_number).where(Call.caller_number == bindparam("n")))
_ADD = Direct(insert(Call.__table__).returning(Call.__table__.c.id, Call.__table__.c.silent_suspected))


def _number() -> str:
    return "+62812" + str(uuid.uuid4().int)[:7]


async def _count(db, slug: str, number: str) -> int:
    async with db.tenant(slug) as s:
        return (await s.execute(select(func.count()).select_from(Call).where(Call.caller_number == number))).scalar_one()


async def test_a_statement_runs_in_the_schema_of_the_sessions_tenant(db, tenant_a, tenant_b):
    number = _number()
    async with db.tenant(tenant_a.slug) as s:
        row = await _ADD.first(s, {"caller_number": number, "channel": "voice", "language": "id"})
        await s.commit()
    assert row.id > 0 and row.silent_suspected is False  # the column's Python-side default applied

    async with db.tenant(tenant_a.slug) as s:
        assert [r.caller_number for r in await _NUMBERS.all(s, {"n": number})] == [number]
    async with db.tenant(tenant_b.slug) as s:  # same compiled statement object, other tenant: nothing
        assert await _NUMBERS.all(s, {"n": number}) == []
    assert await _count(db, tenant_b.slug, number) == 0

    async with db.public() as s:  # no tenant bound: the placeholder schema does not exist
        with pytest.raises(ProgrammingError):
            await _NUMBERS.all(s, {"n": number})


async def test_writes_join_the_sessions_transaction(db, tenant_a):
    number = _number()
    async with db.tenant(tenant_a.slug) as s:
        await _ADD.run(s, {"caller_number": number, "channel": "voice", "language": "id"})
        # the ORM sees the row in the same transaction …
        assert (await s.execute(select(func.count()).select_from(Call).where(Call.caller_number == number))).scalar_one() == 1
        await s.rollback()
    assert await _count(db, tenant_a.slug, number) == 0  # … and a rollback takes it back

    async with db.tenant(tenant_a.slug) as s:
        await _ADD.run(s, {"caller_number": number, "channel": "voice", "language": "id"})
        await s.commit()
        # a new transaction on the same session gets a connection again, and works
        assert len(await _NUMBERS.all(s, {"n": number})) == 1
    assert await _count(db, tenant_a.slug, number) == 1


async def test_database_errors_come_back_as_sqlalchemy_errors(db, tenant_a):
    external = uuid.uuid4().hex
    async with db.tenant(tenant_a.slug) as s:
        await _ADD.run(s, {"caller_number": _number(), "channel": "voice", "language": "id", "external_id": external})
        await s.commit()
    async with db.tenant(tenant_a.slug) as s:
        with pytest.raises(IntegrityError):  # unique external_id
            await _ADD.run(s, {"caller_number": _number(), "channel": "voice", "language": "id",
                               "external_id": external})
        await s.rollback()
        with pytest.raises(IntegrityError):  # CHECK constraint on channel
            await _ADD.run(s, {"caller_number": _number(), "channel": "pigeon", "language": "id"})
        await s.rollback()
        with pytest.raises(DataError):  # longer than the column allows
            await _ADD.run(s, {"caller_number": _number(), "channel": "voice", "language": "id",
                               "external_id": "x" * 500})
        await s.rollback()
        # the session is usable again after each rollback
        assert await _NUMBERS.all(s, {"n": "+620"}) == []


_ADD_QUIETLY = Direct(insert(Call.__table__).on_conflict_do_nothing(index_elements=["external_id"])
                      .returning(Call.__table__.c.id))


async def test_many_runs_every_set_in_the_transaction_and_returns_each_first_row(db, tenant_a, tenant_b):
    numbers = [_number() for _ in range(5)]
    async with db.tenant(tenant_a.slug) as s:
        rows = await _ADD.many(s, [{"caller_number": n, "channel": "voice", "language": "id"} for n in numbers])
        assert len(rows) == 5 and len({r.id for r in rows}) == 5 and rows == sorted(rows)  # in order
        await s.rollback()
    assert [await _count(db, tenant_a.slug, n) for n in numbers] == [0] * 5  # rolled back together

    external = uuid.uuid4().hex
    async with db.tenant(tenant_a.slug) as s:
        rows = await _ADD_QUIETLY.many(s, [
            {"caller_number": numbers[0], "channel": "voice", "language": "id", "external_id": external},
            {"caller_number": numbers[1], "channel": "voice", "language": "id", "external_id": external}])
        await s.commit()
    assert rows[0] is not None and rows[1] is None  # the second one conflicted: no row, in its place
    assert await _count(db, tenant_a.slug, numbers[0]) == 1
    assert await _count(db, tenant_b.slug, numbers[0]) == 0  # the tenant's schema, as for first()

    async with db.tenant(tenant_a.slug) as s:
        with pytest.raises(IntegrityError):  # one bad set fails the whole batch …
            await _ADD.many(s, [{"caller_number": numbers[2], "channel": "voice", "language": "id"},
                                {"caller_number": numbers[3], "channel": "pigeon", "language": "id"}])
        await s.rollback()
        assert await _ADD.many(s, []) == []
    assert await _count(db, tenant_a.slug, numbers[2]) == 0  # … and nothing of it is written


async def test_many_with_one_set_or_no_result_rows(db, tenant_a):
    from sqlalchemy import update

    touch = Direct(update(Call.__table__).where(Call.__table__.c.id == bindparam("call_id"))
                   .values(notes=bindparam("n")))
    async with db.tenant(tenant_a.slug) as s:
        (row,) = await _ADD.many(s, [{"caller_number": _number(), "channel": "voice", "language": "id"}])
        assert row.id > 0
        assert await touch.many(s, [{"n": "a", "call_id": row.id}]) == [None]
        assert await touch.many(s, [{"n": "b", "call_id": row.id}, {"n": "c", "call_id": row.id}]) == [None, None]
        assert (await s.execute(select(Call.notes).where(Call.id == row.id))).scalar_one() == "c"
        await s.rollback()
