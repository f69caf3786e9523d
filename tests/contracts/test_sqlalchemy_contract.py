"""Contract: app/db/direct.py runs SQLAlchemy-compiled statements on the raw psycopg connection,
so it must apply exactly the bind processing SQLAlchemy would. Written against SQLAlchemy 2.0.58.
It uses public API only (compiled.bind_names, TypeEngine.dialect_impl().bind_processor(),
compiled.construct_params, compiled.insert_prefetch); this test compares the result with
SQLAlchemy's own private table, which is what to re-check when SQLAlchemy moves."""

from __future__ import annotations

from datetime import UTC, datetime
from importlib.metadata import version

from sqlalchemy import Column, DateTime, Integer, MetaData, String, Table, insert, select
from sqlalchemy.dialects import postgresql
from sqlalchemy.dialects.postgresql import JSONB

from app.db.direct import bind_processors

WRITTEN_AGAINST = "2.0"
RECHECK = (
    "app/db/direct.py builds bind processors from compiled.bind_names and each type's "
    "dialect_impl(dialect).bind_processor(dialect); SQLAlchemy's own SQLCompiler._bind_processors no "
    "longer agrees. Read SQLCompiler._bind_processors / construct_params in the new release, adapt "
    "bind_processors(), then update WRITTEN_AGAINST and the sqlalchemy bound in pyproject.toml."
)

_table = Table(
    "contract_t",
    MetaData(),
    Column("id", Integer, primary_key=True),
    Column("name", String(40)),
    Column("meta", JSONB),
    Column("at", DateTime(timezone=True)),
)


def test_sqlalchemy_is_the_series_direct_was_written_against():
    assert version("sqlalchemy").startswith(WRITTEN_AGAINST + "."), RECHECK


def _both(statement, keys=None):
    dialect = postgresql.dialect()
    compiled = statement.compile(dialect=dialect, column_keys=keys)
    return compiled, bind_processors(compiled, dialect), dict(compiled._bind_processors)


def test_bind_processors_equal_sqlalchemys_own_for_every_type_direct_uses():
    for statement, keys in (
        (insert(_table), ["name", "meta", "at"]),
        (
            select(_table).where(
                _table.c.meta == {"a": 1}, _table.c.name == "x", _table.c.at < datetime.now(UTC)
            ),
            None,
        ),
    ):
        _, ours, theirs = _both(statement, keys)
        assert set(ours) == set(theirs), RECHECK
        sample = {"name": "Kota Solok", "meta": {"kode": "13.72"}, "at": datetime(2026, 12, 3, tzinfo=UTC)}
        for name, process in ours.items():
            value = sample.get(name.split("_")[0], {"k": 1})
            assert repr(process(value)) == repr(theirs[name](value)), RECHECK


def test_construct_params_and_insert_prefetch_are_still_public_attributes():
    compiled, _, _ = _both(insert(_table), ["name"])
    assert compiled.construct_params({"name": "x"})["name"] == "x", RECHECK
    assert isinstance(list(compiled.insert_prefetch), list), RECHECK


def test_the_postgresql_insert_construct_is_never_cached():
    """Why the hot ON CONFLICT statements go through Direct (tests/db/test_compiled_once.py):
    SQLAlchemy gives its PostgreSQL INSERT no cache key, so ``session.execute`` compiles it at
    every execution, while a Core INSERT is cached. If a release caches it, Direct is still
    correct; only the reason written in app/notify/service.py and app/reputation/service.py
    is gone."""
    plain = insert(_table).values(name="x")
    upsert = postgresql.insert(_table).values(name="x").on_conflict_do_nothing(index_elements=["id"])
    assert plain._generate_cache_key() is not None
    assert upsert._generate_cache_key() is None
