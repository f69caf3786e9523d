"""call recordings (metadata; audio in object storage) and the regency's retention policy

Revision ID: t23b
Revises: t23a
"""

import sqlalchemy as sa
from alembic import op

revision = "t23b"
down_revision = "t23a"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table(
        "call_recordings",
        sa.Column("id", sa.BigInteger(), nullable=False),
        sa.Column("call_id", sa.BigInteger(), nullable=False),
        sa.Column("object_key", sa.String(length=200), nullable=False),
        sa.Column("media_type", sa.String(length=40), nullable=False),
        sa.Column("size_bytes", sa.BigInteger(), nullable=False),
        sa.Column("sha256", sa.String(length=64), nullable=False),
        sa.Column("source_url", sa.String(length=1000), nullable=True),
        sa.Column("received_at", sa.DateTime(timezone=True), server_default=sa.text("now()"), nullable=False),
        sa.Column("delete_after", sa.DateTime(timezone=True), nullable=False),
        sa.Column("deleted_at", sa.DateTime(timezone=True), nullable=True),
        sa.ForeignKeyConstraint(["call_id"], ["calls.id"], name=op.f("fk_call_recordings_call_id_calls")),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_call_recordings")),
        sa.UniqueConstraint("object_key", name=op.f("uq_call_recordings_object_key")),
    )
    op.create_index(op.f("ix_call_recordings_call_id"), "call_recordings", ["call_id"], unique=False)
    op.create_index(
        op.f("ix_call_recordings_delete_after"), "call_recordings", ["delete_after"], unique=False
    )
    op.create_table(
        "recording_policy",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("retention_days", sa.Integer(), nullable=False),
        sa.Column("updated_by", sa.Integer(), nullable=True),
        sa.Column("updated_at", sa.DateTime(timezone=True), server_default=sa.text("now()"), nullable=False),
        sa.CheckConstraint(
            "retention_days BETWEEN 1 AND 3650", name=op.f("ck_recording_policy_retention_days")
        ),
        sa.ForeignKeyConstraint(
            ["updated_by"], ["users.id"], name=op.f("fk_recording_policy_updated_by_users")
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_recording_policy")),
    )


def downgrade() -> None:
    op.drop_table("recording_policy")
    op.drop_table("call_recordings")
