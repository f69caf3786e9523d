"""text-to-112: whatsapp channel, deaf/speech-impaired mark on calls, conversation messages

Revision ID: t23c
Revises: t23b
"""

import sqlalchemy as sa
from alembic import op

revision = "t23c"
down_revision = "t23b"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.drop_constraint(op.f("ck_calls_channel"), "calls", type_="check")
    op.create_check_constraint(
        op.f("ck_calls_channel"), "calls", "channel IN ('voice', 'sms', 'whatsapp', 'app', 'walk_in')"
    )
    op.add_column(
        "calls", sa.Column("deaf_speech_impaired", sa.Boolean(), server_default="false", nullable=False)
    )
    op.create_table(
        "conversation_messages",
        sa.Column("id", sa.BigInteger(), nullable=False),
        sa.Column("call_id", sa.BigInteger(), nullable=False),
        sa.Column("direction", sa.String(length=3), nullable=False),
        sa.Column("body", sa.Text(), nullable=False),
        sa.Column("provider_id", sa.String(length=200), nullable=True),
        sa.Column("state", sa.String(length=10), nullable=False),
        sa.Column("error", sa.String(length=300), nullable=True),
        sa.Column("sent_by", sa.Integer(), nullable=True),
        sa.Column("created_at", sa.DateTime(timezone=True), server_default=sa.text("now()"), nullable=False),
        sa.Column("state_at", sa.DateTime(timezone=True), nullable=True),
        sa.CheckConstraint("direction IN ('in', 'out')", name=op.f("ck_conversation_messages_direction")),
        sa.CheckConstraint(
            "state IN ('received', 'queued', 'sent', 'delivered', 'read', 'failed')",
            name=op.f("ck_conversation_messages_state"),
        ),
        sa.ForeignKeyConstraint(
            ["call_id"], ["calls.id"], name=op.f("fk_conversation_messages_call_id_calls")
        ),
        sa.ForeignKeyConstraint(
            ["sent_by"], ["users.id"], name=op.f("fk_conversation_messages_sent_by_users")
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_conversation_messages")),
        sa.UniqueConstraint("provider_id", name=op.f("uq_conversation_messages_provider_id")),
    )
    op.create_index(
        "ix_conversation_messages_call_id", "conversation_messages", ["call_id", "id"], unique=False
    )


def downgrade() -> None:
    op.drop_table("conversation_messages")
    op.drop_column("calls", "deaf_speech_impaired")
    op.drop_constraint(op.f("ck_calls_channel"), "calls", type_="check")
    op.create_check_constraint(
        op.f("ck_calls_channel"), "calls", "channel IN ('voice', 'sms', 'app', 'walk_in')"
    )
