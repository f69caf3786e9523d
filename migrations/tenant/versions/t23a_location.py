"""caller location: plausibility flags on AML fixes, location-share links and their browser fixes

Revision ID: t23a
Revises: t24a
"""

import sqlalchemy as sa
from alembic import op
from sqlalchemy.dialects import postgresql

revision = "t23a"
down_revision = "t24a"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.add_column(
        "aml_locations",
        sa.Column("flags", postgresql.JSONB(astext_type=sa.Text()), server_default="[]", nullable=False),
    )
    op.create_table(
        "location_links",
        sa.Column("id", sa.BigInteger(), nullable=False),
        sa.Column("call_id", sa.BigInteger(), nullable=False),
        sa.Column("token_hash", sa.String(length=64), nullable=False),
        sa.Column("channel", sa.String(length=10), nullable=False),
        sa.Column("to_number", sa.String(length=16), nullable=False),
        sa.Column("expires_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("used_at", sa.DateTime(timezone=True), nullable=True),
        sa.Column("send_state", sa.String(length=8), nullable=False),
        sa.Column("send_error", sa.String(length=300), nullable=True),
        sa.Column("created_by", sa.Integer(), nullable=True),
        sa.Column("created_at", sa.DateTime(timezone=True), server_default=sa.text("now()"), nullable=False),
        sa.CheckConstraint("channel IN ('sms', 'whatsapp')", name=op.f("ck_location_links_channel")),
        sa.CheckConstraint(
            "send_state IN ('queued', 'sent', 'failed')", name=op.f("ck_location_links_send_state")
        ),
        sa.ForeignKeyConstraint(["call_id"], ["calls.id"], name=op.f("fk_location_links_call_id_calls")),
        sa.ForeignKeyConstraint(
            ["created_by"], ["users.id"], name=op.f("fk_location_links_created_by_users")
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_location_links")),
        sa.UniqueConstraint("token_hash", name=op.f("uq_location_links_token_hash")),
    )
    op.create_index(op.f("ix_location_links_call_id"), "location_links", ["call_id"], unique=False)
    op.create_table(
        "link_fixes",
        sa.Column("id", sa.BigInteger(), nullable=False),
        sa.Column("call_id", sa.BigInteger(), nullable=False),
        sa.Column("link_id", sa.BigInteger(), nullable=False),
        sa.Column("lat", sa.Float(), nullable=False),
        sa.Column("lon", sa.Float(), nullable=False),
        sa.Column("accuracy_m", sa.Float(), nullable=False),
        sa.Column("positioned_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("received_at", sa.DateTime(timezone=True), server_default=sa.text("now()"), nullable=False),
        sa.Column("flags", postgresql.JSONB(astext_type=sa.Text()), server_default="[]", nullable=False),
        sa.ForeignKeyConstraint(["call_id"], ["calls.id"], name=op.f("fk_link_fixes_call_id_calls")),
        sa.ForeignKeyConstraint(
            ["link_id"], ["location_links.id"], name=op.f("fk_link_fixes_link_id_location_links")
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_link_fixes")),
    )
    op.create_index(op.f("ix_link_fixes_call_id"), "link_fixes", ["call_id"], unique=False)
    op.create_index(op.f("ix_link_fixes_link_id"), "link_fixes", ["link_id"], unique=False)


def downgrade() -> None:
    op.drop_table("link_fixes")
    op.drop_table("location_links")
    op.drop_column("aml_locations", "flags")
