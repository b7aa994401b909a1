"""Places (issue 17): distribution points and checkpoints (places), the place serving each
building, buildings' status and its history, and the place an order is left at instead of
the door.

Revision ID: 0027
Revises: 0026
Create Date: 2026-12-01 16:40:00
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

from models.base import UTCDateTime

revision: str = "0027"
down_revision: str | Sequence[str] | None = "0026"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    op.create_table(
        "places",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("community_id", sa.Integer(), nullable=False),
        sa.Column("name", sa.String(length=100), nullable=False),
        sa.Column("kind", sa.String(length=16), nullable=False),
        sa.Column("location", sa.String(length=200), nullable=True),
        sa.Column("pickup_times", sa.String(length=200), nullable=True),
        sa.ForeignKeyConstraint(
            ["community_id"], ["communities.id"], name=op.f("fk_places_community_id_communities")
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_places")),
        sa.UniqueConstraint("community_id", "name", name=op.f("uq_places_community_id")),
    )
    op.create_index(op.f("ix_places_community_id"), "places", ["community_id"])
    op.create_table(
        "building_statuses",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("building_id", sa.Integer(), nullable=False),
        sa.Column("status", sa.String(length=32), nullable=False),
        sa.Column("label", sa.String(length=20), nullable=False),
        sa.Column("effective_at", UTCDateTime(), nullable=False),
        sa.Column("set_by", sa.BigInteger(), nullable=False),
        sa.Column("created_at", UTCDateTime(), nullable=False),
        sa.Column("applied_at", UTCDateTime(), nullable=True),
        sa.Column("cancelled_at", UTCDateTime(), nullable=True),
        sa.Column("notice_id", sa.Integer(), nullable=True),
        sa.ForeignKeyConstraint(
            ["building_id"],
            ["buildings.id"],
            name=op.f("fk_building_statuses_building_id_buildings"),
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_building_statuses")),
    )
    op.create_index(op.f("ix_building_statuses_building_id"), "building_statuses", ["building_id"])
    op.create_index("ix_building_statuses_due", "building_statuses", ["applied_at", "effective_at"])
    with op.batch_alter_table("buildings") as batch:
        batch.add_column(sa.Column("place_id", sa.Integer(), nullable=True))
        batch.add_column(sa.Column("status", sa.String(length=32), nullable=True))
        batch.add_column(sa.Column("status_since", UTCDateTime(), nullable=True))
        batch.create_index(op.f("ix_buildings_place_id"), ["place_id"])
        batch.create_foreign_key(
            op.f("fk_buildings_place_id_places"), "places", ["place_id"], ["id"]
        )
    with op.batch_alter_table("orders") as batch:
        batch.add_column(sa.Column("place_id", sa.Integer(), nullable=True))
        batch.create_foreign_key(op.f("fk_orders_place_id_places"), "places", ["place_id"], ["id"])


def downgrade() -> None:
    with op.batch_alter_table("orders") as batch:
        batch.drop_constraint(op.f("fk_orders_place_id_places"), type_="foreignkey")
        batch.drop_column("place_id")
    with op.batch_alter_table("buildings") as batch:
        batch.drop_constraint(op.f("fk_buildings_place_id_places"), type_="foreignkey")
        batch.drop_index(op.f("ix_buildings_place_id"))
        batch.drop_column("status_since")
        batch.drop_column("status")
        batch.drop_column("place_id")
    op.drop_table("building_statuses")
    op.drop_table("places")
