"""audit_log is append-only (trigger raising on UPDATE/DELETE/TRUNCATE)

Revision ID: t0002
Revises: t0001
"""

from alembic import op

from app.audit.append_only import FUNCTION, statements

revision = "t0002"
down_revision = "t0001"
branch_labels = None
depends_on = None


def upgrade() -> None:
    # search_path is the tenant schema (alembic_env), so unqualified names land there.
    for sql in statements("", "audit_log"):
        op.execute(sql)


def downgrade() -> None:
    op.execute("DROP TRIGGER IF EXISTS audit_log_no_truncate ON audit_log")
    op.execute("DROP TRIGGER IF EXISTS audit_log_append_only ON audit_log")
    op.execute(f"DROP FUNCTION IF EXISTS {FUNCTION}()")
