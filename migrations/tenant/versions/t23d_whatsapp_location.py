"""a WhatsApp location message is a position of its conversation's call

Revision ID: t23d
Revises: t24b
"""

import sqlalchemy as sa
from alembic import op

revision = "t23d"
down_revision = "t24b"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.alter_column("link_fixes", "link_id", existing_type=sa.BigInteger(), nullable=True)
    op.add_column(
        "link_fixes", sa.Column("source", sa.String(length=8), server_default="link", nullable=False)
    )
    op.add_column("link_fixes", sa.Column("provider_id", sa.String(length=128), nullable=True))
    op.create_check_constraint(op.f("ck_link_fixes_source"), "link_fixes", "source IN ('link', 'whatsapp')")
    op.create_unique_constraint(op.f("uq_link_fixes_provider_id"), "link_fixes", ["provider_id"])


def downgrade() -> None:
    op.drop_constraint(op.f("uq_link_fixes_provider_id"), "link_fixes", type_="unique")
    op.drop_constraint(op.f("ck_link_fixes_source"), "link_fixes", type_="check")
    op.drop_column("link_fixes", "provider_id")
    op.drop_column("link_fixes", "source")
    op.execute("DELETE FROM link_fixes WHERE link_id IS NULL")
    op.alter_column("link_fixes", "link_id", existing_type=sa.BigInteger(), nullable=False)
