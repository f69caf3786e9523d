"""map home view and tile source per tenant

Revision ID: p21a
Revises: p24a
"""

import sqlalchemy as sa
from alembic import op

revision = "p21a"
down_revision = "p24a"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.add_column("tenants", sa.Column("map_lat", sa.Float(), nullable=True))
    op.add_column("tenants", sa.Column("map_lon", sa.Float(), nullable=True))
    op.add_column("tenants", sa.Column("map_zoom", sa.SmallInteger(), nullable=True))
    op.add_column("tenants", sa.Column("map_tiles_url", sa.String(length=300), nullable=True))
    op.add_column("tenants", sa.Column("map_tiles_attribution", sa.String(length=300), nullable=True))


def downgrade() -> None:
    for name in ("map_tiles_attribution", "map_tiles_url", "map_zoom", "map_lon", "map_lat"):
        op.drop_column("tenants", name)
