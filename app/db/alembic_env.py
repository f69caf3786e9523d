"""Shared Alembic environment for both branches.

Migration files are written without schema names. The runner sets ``search_path`` to exactly
one schema for the duration of the transaction (``public`` or ``tenant_<slug>``), and keeps each
branch's ``alembic_version`` inside the schema it versions, so "what is pending?" is one query.
"""

from __future__ import annotations

from functools import lru_cache

from alembic import context
from sqlalchemy import MetaData, text

from app.config import get_settings
from app.db import models  # noqa: F401  (fills both metadatas)
from app.db.base import NAMING, PublicBase, TenantBase
from app.db.engine import make_sync_engine
from app.db.tenancy import bind_search_path, schema_for


def unqualified(metadata: MetaData) -> MetaData:
    """A copy of ``metadata`` with no schema names, as the migration files are written."""
    target = MetaData(naming_convention=NAMING)
    for table in metadata.sorted_tables:
        table.to_metadata(target, schema=None)  # type: ignore[arg-type]  # None means "no schema" at run time; the stubs only allow str
    return target


def target_schema(scope: str) -> str:
    if scope == "public":
        return "public"
    tenant = context.get_x_argument(as_dictionary=True).get("tenant")
    schema = context.config.attributes.get("schema")
    if schema:
        return schema
    if not tenant:
        raise SystemExit("tenant branch needs -x tenant=<slug> (or use `siaga112 db upgrade`)")
    return schema_for(tenant)


@lru_cache(maxsize=2)
def target_metadata(scope: str) -> MetaData:
    # Copying the metadata costs ~30 ms; a fleet migration would pay it once per tenant.
    return unqualified(PublicBase.metadata if scope == "public" else TenantBase.metadata)


def run(scope: str) -> None:
    schema = target_schema(scope)
    metadata = target_metadata(scope)
    connection = context.config.attributes.get("connection")
    if connection is None:
        engine = make_sync_engine(get_settings().database_url)
        with engine.connect() as connection:
            _run_on(connection, schema, metadata, scope)
            connection.commit()
        engine.dispose()
    else:
        _run_on(connection, schema, metadata, scope)


def _run_on(connection, schema: str, metadata: MetaData, scope: str) -> None:
    if not connection.in_transaction():
        connection.begin()
    if scope == "tenant":
        connection.execute(
            text("CREATE SCHEMA IF NOT EXISTS " + connection.dialect.identifier_preparer.quote(schema))
        )
    bind_search_path(connection, schema)
    context.configure(
        connection=connection,
        target_metadata=metadata,
        version_table_schema=schema,
        include_schemas=False,
        compare_type=True,
    )
    with context.begin_transaction():
        context.run_migrations()
