"""supervisor reviews of callers (step 3 of the graduated scale)

Revision ID: t24b
Revises: t19b
"""

import sqlalchemy as sa
from alembic import op

revision = "t24b"
down_revision = "t19b"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table(
        "caller_reviews",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("call_id", sa.BigInteger(), nullable=True),
        sa.Column("caller_number", sa.String(length=16), nullable=False),
        sa.Column("national_summary", sa.String(length=200), nullable=False),
        sa.Column("local_suspicious", sa.Integer(), nullable=False),
        sa.Column("note", sa.String(length=500), nullable=False),
        sa.Column("requested_by", sa.Integer(), nullable=True),
        sa.Column(
            "requested_at", sa.DateTime(timezone=True), server_default=sa.text("now()"), nullable=False
        ),
        sa.Column("status", sa.String(length=6), nullable=False),
        sa.Column("decision", sa.String(length=12), nullable=True),
        sa.Column("decision_note", sa.String(length=500), nullable=True),
        sa.Column("decided_by", sa.Integer(), nullable=True),
        sa.Column("decided_at", sa.DateTime(timezone=True), nullable=True),
        sa.CheckConstraint("status IN ('open', 'closed')", name=op.f("ck_caller_reviews_status")),
        sa.CheckConstraint(
            "decision IS NULL OR decision IN ('no_action', 'watch_list', 'warning_sms')",
            name=op.f("ck_caller_reviews_decision"),
        ),
        sa.ForeignKeyConstraint(
            ["call_id"], ["calls.id"], name=op.f("fk_caller_reviews_call_id_calls"), ondelete="SET NULL"
        ),
        sa.ForeignKeyConstraint(
            ["requested_by"], ["users.id"], name=op.f("fk_caller_reviews_requested_by_users")
        ),
        sa.ForeignKeyConstraint(
            ["decided_by"], ["users.id"], name=op.f("fk_caller_reviews_decided_by_users")
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_caller_reviews")),
    )
    op.create_index(
        "uq_caller_reviews_open_number",
        "caller_reviews",
        ["caller_number"],
        unique=True,
        postgresql_where=sa.text("status = 'open'"),
    )
    op.create_index("ix_caller_reviews_status", "caller_reviews", ["status", "requested_at"])


def downgrade() -> None:
    op.drop_index("ix_caller_reviews_status", table_name="caller_reviews")
    op.drop_index("uq_caller_reviews_open_number", table_name="caller_reviews")
    op.drop_table("caller_reviews")
