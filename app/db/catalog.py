"""A comparable description of tenant schemas: tables, columns, indexes, constraints, triggers.

Used to prove that provisioning (model DDL) and migrations (history) build the same schema,
and by the drift check that compares every tenant with the models. Each kind is read for ALL
requested schemas in one query (not one per schema), so checking 514 tenants stays a handful
of round trips.
"""

from __future__ import annotations

import os

from sqlalchemy import Connection, text

from app.db.migrate import head_revision
from app.db.schema_ddl import render_schema_ddl
from app.db.tenancy import SCHEMA_PREFIX, bind_search_path, slug_for_schema, tenant_schemas

_SCHEMAS = "n.nspname = ANY(:schemas)"
_QUERIES = {
    "tables": f"""
SELECT n.nspname, c.relname, c.relkind
FROM pg_class c JOIN pg_namespace n ON n.oid = c.relnamespace
WHERE {_SCHEMAS} AND c.relkind IN ('r', 'p', 'v', 'm') AND c.relname <> 'alembic_version'
""",
    "columns": f"""
SELECT n.nspname, c.relname, a.attname, format_type(a.atttypid, a.atttypmod), a.attnotnull,
       pg_get_expr(d.adbin, d.adrelid)
FROM pg_class c JOIN pg_namespace n ON n.oid = c.relnamespace
JOIN pg_attribute a ON a.attrelid = c.oid AND a.attnum > 0 AND NOT a.attisdropped
LEFT JOIN pg_attrdef d ON d.adrelid = c.oid AND d.adnum = a.attnum
WHERE {_SCHEMAS} AND c.relkind IN ('r', 'p') AND c.relname <> 'alembic_version'
""",
    "indexes": f"""
SELECT n.nspname, c.relname, i.relname, regexp_replace(pg_get_indexdef(i.oid), '^.* USING ', 'USING ')
FROM pg_index x JOIN pg_class i ON i.oid = x.indexrelid JOIN pg_class c ON c.oid = x.indrelid
JOIN pg_namespace n ON n.oid = c.relnamespace
WHERE {_SCHEMAS} AND c.relname <> 'alembic_version'
""",
    "constraints": f"""
SELECT n.nspname, c.relname, k.conname, k.contype, pg_get_constraintdef(k.oid)
FROM pg_constraint k JOIN pg_class c ON c.oid = k.conrelid JOIN pg_namespace n ON n.oid = c.relnamespace
WHERE {_SCHEMAS} AND c.relname <> 'alembic_version'
""",
    "triggers": f"""
SELECT n.nspname, c.relname, t.tgname, regexp_replace(pg_get_triggerdef(t.oid), '^CREATE (CONSTRAINT )?TRIGGER \\S+ ', '')
FROM pg_trigger t JOIN pg_class c ON c.oid = t.tgrelid JOIN pg_namespace n ON n.oid = c.relnamespace
WHERE {_SCHEMAS} AND NOT t.tgisinternal
""",
}
KINDS = tuple(_QUERIES)


def _normalise(schema: str, value):
    # Defaults and FK definitions name the schema (nextval('tenant_x.seq')); compare without it.
    if isinstance(value, str):
        return value.replace(f'"{schema}".', "").replace(f"{schema}.", "")
    return value


def catalogs(conn: Connection, schemas: list[str]) -> dict[str, dict[str, set]]:
    """``{schema: {kind: {row, ...}}}`` for every given schema, one query per kind."""
    out: dict[str, dict[str, set]] = {s: {k: set() for k in KINDS} for s in schemas}
    for kind, sql in _QUERIES.items():
        for schema, *row in conn.execute(text(sql), {"schemas": list(schemas)}):
            out[schema][kind].add(tuple(_normalise(schema, v) for v in row))
    return out


def schema_catalog(conn: Connection, schema: str) -> dict[str, set]:
    return catalogs(conn, [schema])[schema]


def describe(kind: str, row: tuple) -> str:
    """One catalog row as a line a human can act on, e.g. ``column calls.note text NULL``."""
    if kind == "columns":
        table, col, typ, notnull, default = row
        extra = (" NOT NULL" if notnull else " NULL") + (f" DEFAULT {default}" if default else "")
        return f"column {table}.{col} {typ}{extra}"
    if kind == "tables":
        return f"table {row[0]}"
    singular = {"indexes": "index", "constraints": "constraint", "triggers": "trigger"}[kind]
    return f"{singular} {row[0]}.{row[1]}: {' '.join(str(v) for v in row[2:])}"


def diff(reference: dict[str, set], actual: dict[str, set]) -> list[str]:
    """Lines ``- <what the models have and the schema lacks>`` / ``+ <what the schema has extra>``."""
    lines = []
    for kind in KINDS:
        missing_tables = {r[0] for r in reference["tables"] - actual["tables"]}
        extra_tables = {r[0] for r in actual["tables"] - reference["tables"]}
        for sign, rows, hidden in (
            ("-", reference[kind] - actual[kind], missing_tables),
            ("+", actual[kind] - reference[kind], extra_tables),
        ):
            for row in sorted(rows, key=str):
                # A missing/extra table is reported once, not once per column and index.
                if kind != "tables" and row[0] in hidden:
                    continue
                lines.append(f"{sign} {describe(kind, row)}")
    return lines


def reference_catalog(conn: Connection) -> dict[str, set]:
    """The catalog the models produce, built in a scratch schema that is rolled back.

    Uses the provisioning DDL (``render_schema_ddl``), which tests prove equal to the result of
    replaying the migration history.
    """
    scratch = f"_siaga112_drift_ref_{os.getpid()}"
    outer = conn.in_transaction()
    savepoint = conn.begin_nested() if outer else conn.begin()
    try:
        bind_search_path(conn, scratch)
        conn.exec_driver_sql(render_schema_ddl(scratch, head_revision("tenant")))
        return schema_catalog(conn, scratch)
    finally:
        savepoint.rollback()


def tenant_drift(conn: Connection, slugs: list[str] | None = None) -> dict[str, list[str]]:
    """Drift of every tenant schema (or the given ones) against the models: ``{slug: [lines]}``.

    Tenants without drift are present with an empty list, so callers can count what was checked.
    """
    if slugs is None:
        schemas = tenant_schemas(conn)
    else:
        schemas = [SCHEMA_PREFIX + s for s in slugs]
    reference = reference_catalog(conn)
    found = catalogs(conn, list(schemas))
    return {slug_for_schema(s): diff(reference, found[s]) for s in schemas}
