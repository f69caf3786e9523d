"""api_tokens.opd_id: a service token's explicit agency binding (issue 20)

Revision ID: t20a
Revises: t22a
"""

import sqlalchemy as sa
from alembic import op

revision = "t20a"
down_revision = "t22a"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.add_column("api_tokens", sa.Column("opd_id", sa.Integer(), nullable=True))
    op.create_foreign_key(op.f("fk_api_tokens_opd_id_opds"), "api_tokens", "opds", ["opd_id"], ["id"])
    op.create_check_constraint(
        op.f("ck_api_tokens_opd_only_service"), "api_tokens", "kind = 'service' OR opd_id IS NULL"
    )


def downgrade() -> None:
    op.drop_constraint(op.f("ck_api_tokens_opd_only_service"), "api_tokens", type_="check")
    op.drop_constraint(op.f("fk_api_tokens_opd_id_opds"), "api_tokens", type_="foreignkey")
    op.drop_column("api_tokens", "opd_id")
