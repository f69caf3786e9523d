"""platform_audit_log is append-only (trigger raising on UPDATE/DELETE/TRUNCATE)

Revision ID: p0002
Revises: p0001
"""

from alembic import op

from app.audit.append_only import FUNCTION, statements

revision = "p0002"
down_revision = "p0001"
branch_labels = None
depends_on = None


def upgrade() -> None:
    # search_path is public (alembic_env), so unqualified names land there.
    for sql in statements("", "platform_audit_log"):
        op.execute(sql)


def downgrade() -> None:
    op.execute("DROP TRIGGER IF EXISTS platform_audit_log_no_truncate ON platform_audit_log")
    op.execute("DROP TRIGGER IF EXISTS platform_audit_log_append_only ON platform_audit_log")
    op.execute(f"DROP FUNCTION IF EXISTS {FUNCTION}()")
