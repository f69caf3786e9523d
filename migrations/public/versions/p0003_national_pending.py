"""national_pending: append-only deltas of the national rollups, folded by a job

Intake used to UPSERT the tenant's national_daily row in every call transaction, so concurrent
calls of one regency queued on that row lock. Now each change appends a delta row here.

Revision ID: p0003
Revises: p0002
"""

import sqlalchemy as sa
from alembic import op
from sqlalchemy.dialects import postgresql

revision = "p0003"
down_revision = "p0002"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table(
        "national_pending",
        sa.Column("id", sa.BigInteger(), sa.Identity(always=False), nullable=False),
        sa.Column("tenant_id", sa.Integer(), nullable=False),
        sa.Column("day", sa.Date(), nullable=False),
        sa.Column("kind", sa.String(length=8), nullable=False),
        sa.Column("key", sa.String(length=40), server_default="", nullable=False),
        sa.Column("deltas", postgresql.JSONB(astext_type=sa.Text()), nullable=False),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_national_pending")),
    )


def downgrade() -> None:
    op.drop_table("national_pending")
