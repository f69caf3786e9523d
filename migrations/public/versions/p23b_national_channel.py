"""national_daily_channel: calls and answer times per call channel (voice, SMS, WhatsApp …)

Revision ID: p23b
Revises: p21a
"""

import sqlalchemy as sa
from alembic import op

revision = "p23b"
down_revision = "p21a"
branch_labels = None
depends_on = None

BUCKETS = [f"answer_b{i:02d}" for i in range(16)]


def upgrade() -> None:
    op.create_table(
        "national_daily_channel",
        sa.Column("tenant_id", sa.Integer(), nullable=False),
        sa.Column("day", sa.Date(), nullable=False),
        sa.Column("channel", sa.String(length=8), nullable=False),
        sa.Column("calls_total", sa.Integer(), server_default="0", nullable=False),
        sa.Column("calls_answered", sa.Integer(), server_default="0", nullable=False),
        sa.Column("answer_ms_sum", sa.BigInteger(), server_default="0", nullable=False),
        *[sa.Column(b, sa.Integer(), server_default="0", nullable=False) for b in BUCKETS],
        sa.ForeignKeyConstraint(
            ["tenant_id"],
            ["tenants.id"],
            name=op.f("fk_national_daily_channel_tenant_id_tenants"),
            ondelete="CASCADE",
        ),
        sa.PrimaryKeyConstraint("tenant_id", "day", "channel", name=op.f("pk_national_daily_channel")),
    )
    op.create_index("ix_national_daily_channel_day", "national_daily_channel", ["day"], unique=False)
    # Existing tenants' channel rows are filled by the next nightly recount or
    # `siaga112 national rebuild` (the recount is the reference definition).


def downgrade() -> None:
    op.drop_index("ix_national_daily_channel_day", table_name="national_daily_channel")
    op.drop_table("national_daily_channel")
