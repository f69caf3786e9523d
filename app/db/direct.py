"""Hot-path statements run straight on the session's own psycopg connection.

Executing a Core statement through SQLAlchemy costs ≈ 0.1 ms of Python per statement on top of
psycopg (execution context, result metadata, schema-translate regex, greenlet hop), and call
intake runs four of them per call. ``Direct`` compiles a statement ONCE per tenant schema (the
schema name rendered by SQLAlchemy's own ``schema_translate_map``, from the session's bind, so
tenant binding stays in the data layer exactly as for every other statement) and then runs it
on the psycopg connection of the session's current transaction: same transaction, same commit
or rollback, errors raised as SQLAlchemy's (``IntegrityError``, ``DataError`` …).

It is also the way to run PostgreSQL's ``INSERT … ON CONFLICT`` often: SQLAlchemy gives that
construct no cache key, so through ``session.execute`` it is compiled at every execution
(tests/contracts/test_sqlalchemy_contract.py; tests/db/test_compiled_once.py covers the hot ones).

Only for statements whose parameters psycopg adapts itself and whose results need no SQLAlchemy
type processing (ints, text, timestamps, JSON); rows come back as named tuples.

A batch of rows is ONE parameter (``recordset``), so a statement writes any number of rows in
one round trip.

A write whose result nobody reads (history rows, national deltas, reputation counters) can be
queued with ``later``: the queue goes out in ONE psycopg pipeline together with the next
statement on that connection (a ``Direct`` one, anything SQLAlchemy executes) or the commit,
in the order the statements were given. A group-commit flush is a chain of round trips in
which every wait for PostgreSQL is also a wait for the event loop to come back to it, so each
one removed shortens the flush that the regency's next batch waits for.
"""

from __future__ import annotations

import json
from collections.abc import Callable, Sequence
from datetime import date, datetime
from typing import Any

import psycopg
from psycopg.pq import ExecStatus
from psycopg.rows import namedtuple_row
from sqlalchemy import Engine, Text, TypeDecorator, bindparam, cast, column, func, select
from sqlalchemy import event as sa_event
from sqlalchemy import exc as sa_exc
from sqlalchemy.dialects.postgresql import JSONB
from sqlalchemy.dialects.postgresql import insert as pg_insert
from sqlalchemy.ext.asyncio import AsyncSession
from sqlalchemy.pool import Pool
from sqlalchemy.sql import ClauseElement
from sqlalchemy.sql.elements import ColumnClause
from sqlalchemy.sql.selectable import TableValuedAlias

_DRIVER_KEY = "siaga112.direct"
_LATER_KEY = "siaga112.later"  # in the pooled connection's info: [(sql, values)] not yet sent
TUPLES_OK = ExecStatus.TUPLES_OK


class Direct:
    """``Direct(stmt)`` at import time; ``await d.first(session, params)`` / ``d.all(...)`` /
    ``d.run(...)`` in a request."""

    def __init__(self, statement: ClauseElement | Callable[[], ClauseElement]):
        # A callable is built at first use, once every model is mapped: a foreign-key column's
        # type is only known once the table it points to is.
        self._statement = statement
        self._compiled: dict[Any, tuple[str, Any, dict]] = {}

    @property
    def statement(self) -> ClauseElement:
        if callable(self._statement):
            self._statement = self._statement()
        return self._statement

    def _compile(self, dialect, translate: dict | None, keys: tuple[str, ...]) -> tuple[str, Any, dict]:
        # An INSERT without .values() takes its columns from the parameters given, as in SQLAlchemy.
        dml = getattr(self.statement, "is_dml", False)
        key = (tuple(sorted(translate.items())) if translate else None, keys if dml else None)
        hit = self._compiled.get(key)
        if hit is None:
            compiled = self.statement.compile(
                dialect=dialect,
                schema_translate_map=translate,
                render_schema_translate=bool(translate),
                column_keys=list(keys) if dml else None,
            )
            defaults = {}
            for col in getattr(compiled, "insert_prefetch", ()):  # Python-side column defaults
                if col.default is None or not col.default.is_scalar:
                    raise TypeError(f"Direct: column default of {col} is not a scalar")
                defaults[col.key] = col.default.arg
            processors = bind_processors(compiled, dialect)
            hit = self._compiled[key] = (
                compiled.string,
                compiled,
                {"defaults": defaults, "processors": processors},
            )
        return hit

    @staticmethod
    def _values(compiled, extra: dict, params: dict[str, Any]) -> dict[str, Any]:
        values = compiled.construct_params({**extra["defaults"], **params})  # raises if one is missing
        for name, process in extra["processors"].items():
            if name in values:
                values[name] = process(values[name])
        return values

    async def _execute(self, session: AsyncSession, params: dict[str, Any], fetch: str | None):
        pg, dialect, translate, info = await _driver(session)
        pending = info.pop(_LATER_KEY, None)
        if not pending:
            return await self.execute_on(pg, dialect, translate, params, fetch)
        sql, compiled, extra = self._compile(dialect, translate, tuple(params))
        values = self._values(compiled, extra, params)
        writes, cur = pg.cursor(), pg.cursor(row_factory=namedtuple_row)
        try:
            async with pg.pipeline():  # leaving it sends the one Sync and reads every result
                for write, params_ in pending:
                    await writes.execute(write, params_)
                await cur.execute(sql, values)
            return await _fetch(cur, fetch)
        except psycopg.Error as err:  # whichever statement failed, and wherever psycopg says so
            raise _error(err, pending, (sql, values), dialect) from err
        finally:
            await writes.close()
            await cur.close()

    async def execute_on(
        self, pg, dialect, translate: dict | None, params: dict[str, Any], fetch: str | None
    ):
        """On a given psycopg connection, schema from ``translate`` (Database.read; sessions use
        first/all/run). ``fetch``: "one", "all" or None."""
        sql, compiled, extra = self._compile(dialect, translate, tuple(params))
        values = self._values(compiled, extra, params)
        async with pg.cursor(row_factory=namedtuple_row) as cur:
            try:
                await cur.execute(sql, values)
            except psycopg.Error as err:
                raise sa_exc.DBAPIError.instance(sql, values, err, psycopg.Error, dialect=dialect) from err
            return await _fetch(cur, fetch)

    async def explain(self, session: AsyncSession, params: dict[str, Any]) -> str:
        """PostgreSQL's plan for the statement with these parameters, not run (tests check that
        a batch statement does not scan a whole table)."""
        pg, dialect, translate, _ = await _driver(session)
        sql, compiled, extra = self._compile(dialect, translate, tuple(params))
        async with pg.cursor() as cur:
            await cur.execute("EXPLAIN " + sql, self._values(compiled, extra, params))
            return "\n".join(row[0] for row in await cur.fetchall())

    async def later(self, session: AsyncSession, params: dict[str, Any]) -> None:
        """Run this write in the session's transaction without waiting for it: it is sent with
        the next statement on the connection or the commit, whichever comes first, in order. An
        error it raises surfaces there, still before the commit, so the transaction rolls back
        as if the statement had failed at once. Not for a statement whose rows are wanted."""
        _, dialect, translate, info = await _driver(session)
        sql, compiled, extra = self._compile(dialect, translate, tuple(params))
        info.setdefault(_LATER_KEY, []).append((sql, self._values(compiled, extra, params)))

    async def run(self, session: AsyncSession, params: dict[str, Any]) -> None:
        await self._execute(session, params, None)

    async def first(self, session: AsyncSession, params: dict[str, Any]):
        return await self._execute(session, params, "one")

    async def all(self, session: AsyncSession, params: dict[str, Any]) -> Sequence:
        return await self._execute(session, params, "all")


class _Records(TypeDecorator):
    """A list of dicts sent as one JSON text (dates and times in ISO 8601)."""

    impl = Text
    cache_ok = True

    def process_bind_param(self, value, dialect):
        return json.dumps(value, default=_iso, separators=(",", ":"))


def _iso(value: Any) -> str:
    if isinstance(value, (datetime, date)):
        return value.isoformat()
    raise TypeError(f"{type(value).__name__} is not JSON serializable")


def recordset(param: str, *columns: ColumnClause, name: str = "r") -> TableValuedAlias:
    """Rows given as ONE parameter (a list of dicts), read back by ``jsonb_to_recordset`` with the
    columns' own SQL types: ``INSERT … SELECT … FROM recordset(…)`` writes a whole batch in one
    statement. psycopg's pipelined executemany sends one statement per row, and in asyncio each
    costs an event-loop wait; this costs one JSON encoding and one round trip."""
    rows = func.jsonb_to_recordset(cast(bindparam(param, type_=_Records()), JSONB))
    return rows.table_valued(*columns).render_derived(name=name, with_types=True)


def insert_rows(table, param: str, keys: Sequence[str], *, order_by: Sequence[str] = ()):
    """``INSERT INTO table (keys) SELECT … FROM recordset(param)`` (PostgreSQL's INSERT, so
    ``.on_conflict_…`` and ``.returning`` chain on), rows in ``order_by`` order if given."""
    given = recordset(param, *columns_of(table, keys))
    rows = select(*given.c)
    if order_by:
        rows = rows.order_by(*(given.c[k] for k in order_by))
    return pg_insert(table).from_select(list(keys), rows, include_defaults=False)


def columns_of(table, keys: Sequence[str]) -> list[ColumnClause]:
    """Columns for ``recordset`` typed like ``table``'s."""
    return [column(k, table.c[k].type) for k in keys]


def _has_rows(cur) -> bool:
    # Not ``cur.description``: that builds a Column object per column on every call.
    res = cur.pgresult
    return res is not None and res.status == TUPLES_OK


def bind_processors(compiled, dialect) -> dict[str, Callable[[Any], Any]]:
    """The bind processors SQLAlchemy itself applies (e.g. JSONB values wrapped for psycopg),
    built from public API: each bound parameter's type adapted to the dialect.
    tests/contracts/test_sqlalchemy_contract.py checks they equal SQLAlchemy's own."""
    found = {}
    for param, name in compiled.bind_names.items():
        process = param.type.dialect_impl(dialect).bind_processor(dialect)
        if process is not None:
            found[name] = process
    return found


async def _driver(session: AsyncSession) -> tuple[Any, Any, dict | None, dict]:
    """The psycopg connection of the session's current transaction (begun if need be), its
    dialect, schema translate map and the pooled connection's info (where ``later`` queues);
    looked up once per transaction."""
    tx = session.sync_session.get_transaction()
    cached = session.info.get(_DRIVER_KEY)
    if cached is not None and tx is not None and cached[0] is tx:
        return cached[1]
    conn = await session.connection()
    sync = conn.sync_connection
    assert sync is not None  # an AsyncConnection is started by session.connection()
    translate = sync.get_execution_options().get("schema_translate_map")
    raw = await conn.get_raw_connection()
    found = (raw.driver_connection, conn.dialect, translate, sync.info)
    session.info[_DRIVER_KEY] = (session.sync_session.get_transaction(), found)
    return found


# --- writes queued by ``later`` ------------------------------------------------------------------


async def _fetch(cur, fetch: str | None):
    if fetch == "one":  # None if it returns no rows (or is not a query that returns any)
        return await cur.fetchone() if _has_rows(cur) else None
    if fetch == "all":
        return await cur.fetchall()
    return None


async def send_later(pg, dialect, pending: list[tuple[str, Any]], then: str | None = None) -> None:
    """``pending`` (and ``then``, a statement without parameters, e.g. COMMIT) in one pipeline."""
    try:
        async with pg.pipeline(), pg.cursor() as cur:  # one Sync, when the pipeline is left
            for sql, values in pending:
                await cur.execute(sql, values)
            if then is not None:
                await cur.execute(then)
    except psycopg.Error as err:  # whichever statement failed, and wherever psycopg says so
        raise _error(err, pending, (then, None) if then else None, dialect) from err


async def commit_with_later(session: AsyncSession) -> None:
    """Send the writes queued in the session's transaction and its COMMIT in ONE pipeline, if
    nothing else is to come between them (no ORM changes for SQLAlchemy to flush first); then
    ``session.commit()`` finds the connection idle and only does its own bookkeeping (its
    after-commit events). Otherwise the queue goes out on SQLAlchemy's commit event."""
    tx = session.sync_session.get_transaction()
    cached = session.info.get(_DRIVER_KEY)
    if tx is None or cached is None or cached[0] is not tx:
        return
    pg, dialect, _, info = cached[1]
    if not info.get(_LATER_KEY) or session.new or session.dirty or session.deleted:
        return
    await send_later(pg, dialect, info.pop(_LATER_KEY), then="COMMIT")


def _error(err: psycopg.Error, pending: list, last: tuple[str, Any] | None, dialect) -> sa_exc.StatementError:
    """SQLAlchemy's error for a pipeline (IntegrityError, DataError …, as for one statement);
    PostgreSQL stops a pipeline at its first failing statement, so the SQL shown is the lot."""
    statements = [sql for sql, _ in pending] + ([last[0]] if last else [])
    return sa_exc.DBAPIError.instance(" ;\n".join(statements), None, err, psycopg.Error, dialect=dialect)


def _send_queued(conn) -> None:
    """Before anything SQLAlchemy executes on a connection, and before its commit: the writes
    queued on it go first, so every statement runs in the order it was given."""
    if conn.invalidated or _LATER_KEY not in conn.info:
        return
    pending = conn.info.pop(_LATER_KEY)
    if pending:
        conn.connection.dbapi_connection.run_async(lambda pg: send_later(pg, conn.dialect, pending))


def _send_before_execute(conn, cursor, statement, parameters, context, executemany) -> None:
    _send_queued(conn)


def _drop_on_rollback(conn) -> None:
    if not conn.invalidated:  # an invalidated one has no info to read; its record drops it below
        conn.info.pop(_LATER_KEY, None)


def _drop_from_record(dbapi_connection, record, *exc) -> None:
    if record is not None:  # never carried into another checkout's transaction
        record.info.pop(_LATER_KEY, None)


sa_event.listen(Engine, "before_cursor_execute", _send_before_execute)
sa_event.listen(Engine, "commit", _send_queued)
sa_event.listen(Engine, "rollback", _drop_on_rollback)
sa_event.listen(Pool, "checkin", _drop_from_record)
sa_event.listen(Pool, "invalidate", _drop_from_record)
