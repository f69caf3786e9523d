"""national hand-over counter; national caller reputation (keyed hashes, counts per regency and day)

Revision ID: p24a
Revises: p0003
"""

import sqlalchemy as sa
from alembic import op

revision = "p24a"
down_revision = "p0003"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.add_column("national_daily", sa.Column("handovers", sa.Integer(), server_default="0", nullable=False))
    op.create_table(
        "caller_reputation",
        sa.Column("key_id", sa.String(length=16), nullable=False),
        sa.Column("number_hash", sa.LargeBinary(length=32), nullable=False),
        sa.Column("tenant_id", sa.Integer(), nullable=False),
        sa.Column("day", sa.Date(), nullable=False),
        sa.Column("prank", sa.Integer(), server_default="0", nullable=False),
        sa.Column("silent", sa.Integer(), server_default="0", nullable=False),
        sa.Column("genuine", sa.Integer(), server_default="0", nullable=False),
        sa.ForeignKeyConstraint(
            ["tenant_id"],
            ["tenants.id"],
            name=op.f("fk_caller_reputation_tenant_id_tenants"),
            ondelete="CASCADE",
        ),
        sa.PrimaryKeyConstraint(
            "key_id", "number_hash", "tenant_id", "day", name=op.f("pk_caller_reputation")
        ),
    )
    op.create_index("ix_caller_reputation_day", "caller_reputation", ["day"], unique=False)


def downgrade() -> None:
    op.drop_table("caller_reputation")
    op.drop_column("national_daily", "handovers")
