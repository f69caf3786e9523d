"""calls without a usable caller number: raw value, flag, handset identity (IMEI/IMSI)

Revision ID: t19a
Revises: t20a
"""

import sqlalchemy as sa
from alembic import op

revision = "t19a"
down_revision = "t20a"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.alter_column("calls", "caller_number", existing_type=sa.String(16), nullable=True)
    op.add_column("calls", sa.Column("caller_number_raw", sa.String(64), nullable=True))
    op.add_column(
        "calls", sa.Column("number_unavailable", sa.Boolean(), server_default="false", nullable=False)
    )
    op.add_column("calls", sa.Column("imei", sa.String(16), nullable=True))
    op.add_column("calls", sa.Column("imsi", sa.String(15), nullable=True))
    op.alter_column("aml_locations", "caller_number", existing_type=sa.String(16), nullable=True)
    op.alter_column("callback_tasks", "caller_number", existing_type=sa.String(16), nullable=True)


def downgrade() -> None:
    # Calls without a number cannot satisfy NOT NULL again: keep their raw value visible.
    op.execute(
        "UPDATE calls SET caller_number = left(coalesce(caller_number_raw, ''), 16) WHERE caller_number IS NULL"
    )
    op.execute("UPDATE aml_locations SET caller_number = '' WHERE caller_number IS NULL")
    op.execute("UPDATE callback_tasks SET caller_number = '' WHERE caller_number IS NULL")
    op.alter_column("callback_tasks", "caller_number", existing_type=sa.String(16), nullable=False)
    op.alter_column("aml_locations", "caller_number", existing_type=sa.String(16), nullable=False)
    op.drop_column("calls", "imsi")
    op.drop_column("calls", "imei")
    op.drop_column("calls", "number_unavailable")
    op.drop_column("calls", "caller_number_raw")
    op.alter_column("calls", "caller_number", existing_type=sa.String(16), nullable=False)
