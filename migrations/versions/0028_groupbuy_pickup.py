"""A group-buy's share of a building whose status says "pickup": fetched at the point by its
households, not carried to the doors; and one photo for a whole building's doors (issue 17).

Revision ID: 0028
Revises: 0027
Create Date: 2026-12-01 17:40:00
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0028"
down_revision: str | Sequence[str] | None = "0027"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    with op.batch_alter_table("groupbuy_runs") as batch:
        batch.add_column(sa.Column("pickup_place_id", sa.Integer(), nullable=True))
        batch.add_column(sa.Column("photo", sa.String(length=256), nullable=True))


def downgrade() -> None:
    with op.batch_alter_table("groupbuy_runs") as batch:
        batch.drop_column("photo")
        batch.drop_column("pickup_place_id")
