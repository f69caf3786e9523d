"""Audit rows are append-only in the DATABASE: UPDATE, DELETE and TRUNCATE raise.

A bug or an insider with the application's credentials cannot quietly rewrite history through
SQL. The same DDL is attached to the model tables (so provisioning creates it) and run by
revisions t0002/p0002 (so migrated schemas get it); the catalog check compares triggers.
No ``%`` in the SQL: it goes through DDL formatting and psycopg's exec_driver_sql.
"""

from __future__ import annotations

from sqlalchemy import DDL, event

FUNCTION = "audit_append_only"


def statements(schema: str, table: str) -> list[str]:
    """DDL for one table; ``schema`` is a prefix such as ``"tenant_x".``, or ``""`` for search_path."""
    return [
        f"""CREATE OR REPLACE FUNCTION {schema}{FUNCTION}() RETURNS trigger LANGUAGE plpgsql AS $body$
BEGIN
  RAISE EXCEPTION USING
    MESSAGE = 'audit log is append-only: ' || TG_OP || ' on ' || TG_TABLE_NAME || ' refused',
    ERRCODE = 'insufficient_privilege';
END
$body$""",
        f"CREATE TRIGGER {table}_append_only BEFORE UPDATE OR DELETE ON {schema}{table} "
        f"FOR EACH ROW EXECUTE FUNCTION {schema}{FUNCTION}()",
        f"CREATE TRIGGER {table}_no_truncate BEFORE TRUNCATE ON {schema}{table} "
        f"FOR EACH STATEMENT EXECUTE FUNCTION {schema}{FUNCTION}()",
    ]


def attach(table) -> None:
    # %(schema)s follows the schema translate map, so provisioning renders the tenant's schema.
    for sql in statements("%(schema)s.", table.name):
        event.listen(table, "after_create", DDL(sql))
