"""app.db.direct: hot-path statements on the session's own psycopg connection keep the guarantees
of every other statement: bound to the session's tenant, inside its transaction, SQLAlchemy errors."""

from __future__ import annotations

import subprocess
import sys
import uuid
from datetime import UTC, datetime
from pathlib import Path

import pytest
from sqlalchemy import ARRAY, Integer, any_, bindparam, column, func, literal, select, update
from sqlalchemy.dialects.postgresql import insert
from sqlalchemy.exc import DataError, IntegrityError, ProgrammingError

from app.auth.models import User
from app.calls.models import Call
from app.db.direct import Direct, columns_of, recordset
from app.db.tenancy import InvalidSlug

_NUMBERS = Direct(select(Call.caller_number).where(Call.caller_number == bindparam("n")))
_ADD = Direct(insert(Call.__table__).returning(Call.__table__.c.id, Call.__table__.c.silent_suspected))


def _number() -> str:
    return "+62812" + str(uuid.uuid4().int)[:7]


async def _count(db, slug: str, number: str) -> int:
    async with db.tenant(slug) as s:
        return (
            await s.execute(select(func.count()).select_from(Call).where(Call.caller_number == number))
        ).scalar_one()


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
        assert (
            await s.execute(select(func.count()).select_from(Call).where(Call.caller_number == number))
        ).scalar_one() == 1
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
        await _ADD.run(
            s, {"caller_number": _number(), "channel": "voice", "language": "id", "external_id": external}
        )
        await s.commit()
    async with db.tenant(tenant_a.slug) as s:
        with pytest.raises(IntegrityError):  # unique external_id
            await _ADD.run(
                s, {"caller_number": _number(), "channel": "voice", "language": "id", "external_id": external}
            )
        await s.rollback()
        with pytest.raises(IntegrityError):  # CHECK constraint on channel
            await _ADD.run(s, {"caller_number": _number(), "channel": "pigeon", "language": "id"})
        await s.rollback()
        with pytest.raises(DataError):  # longer than the column allows
            await _ADD.run(
                s,
                {"caller_number": _number(), "channel": "voice", "language": "id", "external_id": "x" * 500},
            )
        await s.rollback()
        # the session is usable again after each rollback
        assert await _NUMBERS.all(s, {"n": "+620"}) == []


_CALLS = Call.__table__
_ROWS = recordset(
    "rows",
    *columns_of(_CALLS, ("caller_number", "channel", "received_at", "external_id")),
    column("i", Integer),
)
_ADD_ROWS = Direct(
    lambda: (
        insert(_CALLS)
        .from_select(
            ["caller_number", "channel", "language", "received_at", "external_id"],
            select(
                _ROWS.c.caller_number,
                _ROWS.c.channel,
                literal("id"),
                func.coalesce(_ROWS.c.received_at, func.now()),
                _ROWS.c.external_id,
            ).order_by(_ROWS.c.i),
            include_defaults=False,
        )
        .on_conflict_do_nothing(index_elements=["external_id"])
        .returning(_CALLS.c.id, _CALLS.c.caller_number, _CALLS.c.received_at, _CALLS.c.external_id)
    )
)


async def test_a_recordset_writes_a_batch_in_one_statement_of_the_sessions_tenant(db, tenant_a, tenant_b):
    numbers = [_number() for _ in range(5)]
    at = datetime(2026, 11, 20, 8, 30, 15, 123456, tzinfo=UTC)
    external = uuid.uuid4().hex
    rows = [{"caller_number": n, "channel": "sms", "i": i} for i, n in enumerate(numbers)]
    rows[1]["received_at"] = at  # dates and times travel as ISO 8601 and come back exact
    rows[2]["external_id"] = rows[3]["external_id"] = external  # the second one conflicts: no row for it
    async with db.tenant(tenant_a.slug) as s:
        written = await _ADD_ROWS.all(s, {"rows": rows})
        await s.commit()
    assert sorted(r.caller_number for r in written) == sorted(numbers[:3] + numbers[4:])
    by_number = {r.caller_number: r for r in written}
    assert by_number[numbers[1]].received_at == at
    assert (
        by_number[numbers[0]].received_at > at and by_number[numbers[0]].external_id is None
    )  # key missing: NULL
    assert by_number[numbers[2]].external_id == external
    assert [await _count(db, tenant_a.slug, n) for n in numbers] == [1, 1, 1, 0, 1]
    assert [await _count(db, tenant_b.slug, n) for n in numbers] == [0] * 5  # the session's tenant only

    async with db.tenant(tenant_a.slug) as s:
        assert await _ADD_ROWS.all(s, {"rows": []}) == []
        with pytest.raises(IntegrityError):  # one bad row fails the whole statement …
            await _ADD_ROWS.all(
                s,
                {
                    "rows": [
                        {"caller_number": _number(), "channel": "voice", "i": 0},
                        {"caller_number": numbers[3], "channel": "pigeon", "i": 1},
                    ]
                },
            )
        await s.rollback()
        with pytest.raises(DataError):  # … and a value too long for its column is refused, not cut
            await _ADD_ROWS.all(
                s, {"rows": [{"caller_number": "+62" + "8" * 20, "channel": "voice", "i": 0}]}
            )
        await s.rollback()
    assert await _count(db, tenant_a.slug, numbers[3]) == 0


def test_a_statement_given_as_a_function_is_built_once_every_model_is_mapped():
    """calls.operator_id's type comes from users.id: known only once app.auth.models is imported,
    which app.calls.service itself does not import. Building the intake statement at import time
    had given that column no type (a CompileError on the first intake of a fresh process)."""
    script = (
        "import app.calls.service as s\n"
        "assert callable(s._INTAKE._statement)\n"
        "from app.main import create_app\n"
        "from sqlalchemy.dialects import postgresql\n"
        "sql = str(s._INTAKE.statement.compile(dialect=postgresql.dialect()))\n"
        "assert 'operator_id INTEGER' in sql, sql\n"
    )
    done = subprocess.run(
        [sys.executable, "-c", script],
        cwd=Path(__file__).resolve().parent.parent,
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert done.returncode == 0, done.stderr[-2000:]


_EMAILS = Direct(select(User.email).where(User.id == any_(bindparam("ids", type_=ARRAY(Integer)))))


async def test_database_read_is_autocommit_and_bound_to_the_slugs_schema(
    db, tenant_a, tenant_b, user_factory
):
    user = await user_factory(tenant_a, "operator")
    assert [r.email for r in await db.read(tenant_a.slug, _EMAILS, {"ids": [user.id]})] == [user.email]
    other = await db.read(tenant_b.slug, _EMAILS, {"ids": [user.id]})
    assert user.email not in [r.email for r in other]  # same statement, other tenant: its own users table
    with pytest.raises(InvalidSlug):
        await db.read("Robert'); DROP TABLE users;--", _EMAILS, {"ids": [user.id]})

    async with db.tenant(tenant_a.slug) as s:  # a session's uncommitted change is not visible to it …
        await s.execute(update(User).where(User.id == user.id).values(email="baru-" + user.email))
        assert [r.email for r in await db.read(tenant_a.slug, _EMAILS, {"ids": [user.id]})] == [user.email]
        await s.commit()
    # … and a committed one is at once: no transaction (and no snapshot) is held between reads
    assert [r.email for r in await db.read(tenant_a.slug, _EMAILS, {"ids": [user.id]})] == [
        "baru-" + user.email
    ]


async def test_database_read_pool_is_closed_by_dispose(settings):
    from app.db.database import Database
    from app.db.engine import make_async_engine

    own = Database(make_async_engine(settings, pool_size=1, max_overflow=0))
    await own.read("public_probe", Direct(select(literal(1).label("one"))), {})
    pool = own._reads
    assert pool is not None and not pool.closed
    await own.dispose()
    assert pool.closed and own._reads is None
