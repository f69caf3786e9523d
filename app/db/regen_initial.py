"""Development tool: (re)write the initial revision of a branch from the models.

Only for the time before the first deployment, while the initial schema is still being shaped.
Once a revision has shipped, add new revisions instead (see README, "Adding a migration").
Usage: DATABASE_URL=... python -m app.db.regen_initial [public|tenant]
"""

from __future__ import annotations

import os
import sys

from alembic.autogenerate import produce_migrations, render_python_code
from alembic.migration import MigrationContext
from sqlalchemy import text

from app.config import PROJECT_ROOT, get_settings
from app.db import models  # noqa: F401
from app.db.alembic_env import unqualified
from app.db.base import PublicBase, TenantBase
from app.db.engine import make_sync_engine

SCRATCH = f"_siaga112_regen_{os.getpid()}"
REVISIONS = {"public": "p0001", "tenant": "t0001"}

TEMPLATE = '''"""initial {scope} schema

Revision ID: {rev}
Revises:
Create Date: 2026-11-24
"""
from alembic import op
import sqlalchemy as sa
from sqlalchemy.dialects import postgresql

revision = "{rev}"
down_revision = None
branch_labels = ("{scope}",)
depends_on = None


def upgrade() -> None:
{upgrade}


def downgrade() -> None:
{downgrade}
'''


def regen(scope: str) -> str:
    metadata = unqualified(PublicBase.metadata if scope == "public" else TenantBase.metadata)
    engine = make_sync_engine(get_settings().database_url)
    with engine.connect() as conn:
        conn.execute(text(f"DROP SCHEMA IF EXISTS {SCRATCH} CASCADE"))
        conn.execute(text(f"CREATE SCHEMA {SCRATCH}"))
        conn.execute(text(f"SET search_path TO {SCRATCH}"))
        ctx = MigrationContext.configure(conn, opts={"target_metadata": metadata, "include_schemas": False})
        script = produce_migrations(ctx, metadata)
        assert script.upgrade_ops is not None and script.downgrade_ops is not None
        up = render_python_code(script.upgrade_ops, migration_context=ctx, render_as_batch=False)
        down = render_python_code(script.downgrade_ops, migration_context=ctx, render_as_batch=False)
        conn.rollback()
    engine.dispose()
    path = PROJECT_ROOT / "migrations" / scope / "versions" / f"{REVISIONS[scope]}_initial.py"
    path.write_text(TEMPLATE.format(scope=scope, rev=REVISIONS[scope], upgrade=up, downgrade=down))
    return str(path)


if __name__ == "__main__":
    for scope in sys.argv[1:] or ["public", "tenant"]:
        print("wrote", regen(scope))
