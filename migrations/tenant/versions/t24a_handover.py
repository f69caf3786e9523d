"""hand-over between regencies: outbox, inbox, and the received incident's transfer id

Revision ID: t24a
Revises: t0002
"""

import sqlalchemy as sa
from alembic import op
from sqlalchemy.dialects import postgresql

revision = "t24a"
down_revision = "t0002"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.add_column("incidents", sa.Column("handover_transfer_id", sa.Uuid(), nullable=True))
    op.add_column("incidents", sa.Column("handover_source", sa.String(length=10), nullable=True))
    op.create_unique_constraint(
        op.f("uq_incidents_handover_transfer_id"), "incidents", ["handover_transfer_id"]
    )
    op.create_table(
        "handover_outbox",
        sa.Column("id", sa.BigInteger(), nullable=False),
        sa.Column("transfer_id", sa.Uuid(), nullable=False),
        sa.Column("incident_id", sa.BigInteger(), nullable=True),
        sa.Column("call_id", sa.BigInteger(), nullable=True),
        sa.Column("receiver_tenant_id", sa.Integer(), nullable=False),
        sa.Column("receiver_slug", sa.String(length=47), nullable=False),
        sa.Column("receiver_name", sa.String(length=200), nullable=False),
        sa.Column("reason", sa.Text(), nullable=False),
        sa.Column("document", postgresql.JSONB(astext_type=sa.Text()), nullable=False),
        sa.Column("status", sa.String(length=10), nullable=False),
        sa.Column("attempts", sa.Integer(), server_default="0", nullable=False),
        sa.Column("last_error", sa.Text(), nullable=True),
        sa.Column("decline_reason", sa.Text(), nullable=True),
        sa.Column("decided_by_label", sa.String(length=200), nullable=True),
        sa.Column("created_by", sa.Integer(), nullable=True),
        sa.Column("created_at", sa.DateTime(timezone=True), server_default=sa.text("now()"), nullable=False),
        sa.Column("delivered_at", sa.DateTime(timezone=True), nullable=True),
        sa.Column("decided_at", sa.DateTime(timezone=True), nullable=True),
        sa.CheckConstraint(
            "status IN ('pending', 'delivered', 'accepted', 'declined')",
            name=op.f("ck_handover_outbox_status"),
        ),
        sa.CheckConstraint(
            "(incident_id IS NULL) <> (call_id IS NULL)", name=op.f("ck_handover_outbox_incident_or_call")
        ),
        sa.ForeignKeyConstraint(["call_id"], ["calls.id"], name=op.f("fk_handover_outbox_call_id_calls")),
        sa.ForeignKeyConstraint(
            ["created_by"], ["users.id"], name=op.f("fk_handover_outbox_created_by_users")
        ),
        sa.ForeignKeyConstraint(
            ["incident_id"], ["incidents.id"], name=op.f("fk_handover_outbox_incident_id_incidents")
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_handover_outbox")),
        sa.UniqueConstraint("transfer_id", name=op.f("uq_handover_outbox_transfer_id")),
    )
    op.create_index("ix_handover_outbox_incident_id", "handover_outbox", ["incident_id"], unique=False)
    op.create_index("ix_handover_outbox_call_id", "handover_outbox", ["call_id"], unique=False)
    op.create_index("ix_handover_outbox_status", "handover_outbox", ["status", "created_at"], unique=False)
    op.create_table(
        "handover_inbox",
        sa.Column("id", sa.BigInteger(), nullable=False),
        sa.Column("transfer_id", sa.Uuid(), nullable=False),
        sa.Column("source", sa.String(length=10), nullable=False),
        sa.Column("sender_tenant_id", sa.Integer(), nullable=True),
        sa.Column("sender_name", sa.String(length=200), nullable=False),
        sa.Column("reason", sa.Text(), nullable=False),
        sa.Column("document", postgresql.JSONB(astext_type=sa.Text()), nullable=False),
        sa.Column("status", sa.String(length=10), nullable=False),
        sa.Column("decline_reason", sa.Text(), nullable=True),
        sa.Column("decided_by", sa.Integer(), nullable=True),
        sa.Column("decided_at", sa.DateTime(timezone=True), nullable=True),
        sa.Column("incident_id", sa.BigInteger(), nullable=True),
        sa.Column("reported_at", sa.DateTime(timezone=True), nullable=True),
        sa.Column("received_at", sa.DateTime(timezone=True), server_default=sa.text("now()"), nullable=False),
        sa.CheckConstraint("source IN ('regency', 'external')", name=op.f("ck_handover_inbox_source")),
        sa.CheckConstraint(
            "status IN ('ringing', 'accepted', 'declined')", name=op.f("ck_handover_inbox_status")
        ),
        sa.ForeignKeyConstraint(
            ["decided_by"], ["users.id"], name=op.f("fk_handover_inbox_decided_by_users")
        ),
        sa.ForeignKeyConstraint(
            ["incident_id"], ["incidents.id"], name=op.f("fk_handover_inbox_incident_id_incidents")
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_handover_inbox")),
        sa.UniqueConstraint("transfer_id", name=op.f("uq_handover_inbox_transfer_id")),
    )
    op.create_index("ix_handover_inbox_status", "handover_inbox", ["status", "received_at"], unique=False)


def downgrade() -> None:
    op.drop_table("handover_inbox")
    op.drop_table("handover_outbox")
    op.drop_constraint(op.f("uq_incidents_handover_transfer_id"), "incidents", type_="unique")
    op.drop_column("incidents", "handover_source")
    op.drop_column("incidents", "handover_transfer_id")
