"""A comparable description of one schema's tables, columns, indexes and constraints.

Used to prove that provisioning (model DDL) and migrations (history) build the same schema,
and by the drift check that compares every tenant with the models.
"""
from __future__ import annotations

from sqlalchemy import Connection, text

_COLUMNS = """
SELECT c.relname, a.attname, format_type(a.atttypid, a.atttypmod), a.attnotnull,
       pg_get_expr(d.adbin, d.adrelid)
FROM pg_class c JOIN pg_namespace n ON n.oid = c.relnamespace
JOIN pg_attribute a ON a.attrelid = c.oid AND a.attnum > 0 AND NOT a.attisdropped
LEFT JOIN pg_attrdef d ON d.adrelid = c.oid AND d.adnum = a.attnum
WHERE n.nspname = :schema AND c.relkind IN ('r', 'p') AND c.relname <> 'alembic_version'
"""
_INDEXES = """
SELECT c.relname, i.relname, regexp_replace(pg_get_indexdef(i.oid), '^.* USING ', 'USING ')
FROM pg_index x JOIN pg_class i ON i.oid = x.indexrelid JOIN pg_class c ON c.oid = x.indrelid
JOIN pg_namespace n ON n.oid = c.relnamespace
WHERE n.nspname = :schema AND c.relname <> 'alembic_version'
"""
_CONSTRAINTS = """
SELECT c.relname, k.conname, k.contype, pg_get_constraintdef(k.oid)
FROM pg_constraint k JOIN pg_class c ON c.oid = k.conrelid JOIN pg_namespace n ON n.oid = c.relnamespace
WHERE n.nspname = :schema AND c.relname <> 'alembic_version'
"""


def _normalise(schema: str, value):
    # Defaults and FK definitions name the schema (nextval('tenant_x.seq')); compare without it.
    if isinstance(value, str):
        return value.replace(f'"{schema}".', "").replace(f"{schema}.", "")
    return value


def schema_catalog(conn: Connection, schema: str) -> dict[str, set]:
    out = {}
    for key, sql in (("columns", _COLUMNS), ("indexes", _INDEXES), ("constraints", _CONSTRAINTS)):
        rows = conn.execute(text(sql), {"schema": schema}).all()
        out[key] = {tuple(_normalise(schema, v) for v in row) for row in rows}
    return out
