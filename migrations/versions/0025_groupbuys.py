"""Group-buys (issue 17): partner merchants (爱心商家) and their products, building
group-buys (团购 / 接龙) with their buildings, items and each household's quantities, the
per-building packing lists volunteers take and the doors they mark, and which group-buy a
notice announces.

Revision ID: 0025
Revises: 0024
Create Date: 2026-12-01 16:30:00
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

from models.base import UTCDateTime

revision: str = "0025"
down_revision: str | Sequence[str] | None = "0024"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    op.create_table(
        "merchants",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("name", sa.String(length=64), nullable=False),
        sa.Column("kind", sa.String(length=16), nullable=False),
        sa.Column("contact_telegram_id", sa.BigInteger(), nullable=False),
        sa.Column("created_at", UTCDateTime(), nullable=False),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_merchants")),
        sa.UniqueConstraint("name", name=op.f("uq_merchants_name")),
    )
    op.create_index(op.f("ix_merchants_contact_telegram_id"), "merchants", ["contact_telegram_id"])
    op.create_table(
        "merchant_communities",
        sa.Column("merchant_id", sa.Integer(), nullable=False),
        sa.Column("community_id", sa.Integer(), nullable=False),
        sa.ForeignKeyConstraint(
            ["merchant_id"],
            ["merchants.id"],
            name=op.f("fk_merchant_communities_merchant_id_merchants"),
        ),
        sa.ForeignKeyConstraint(
            ["community_id"],
            ["communities.id"],
            name=op.f("fk_merchant_communities_community_id_communities"),
        ),
        sa.PrimaryKeyConstraint(
            "merchant_id", "community_id", name=op.f("pk_merchant_communities")
        ),
    )
    op.create_table(
        "merchant_products",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("merchant_id", sa.Integer(), nullable=False),
        sa.Column("name", sa.String(length=64), nullable=False),
        sa.Column("unit", sa.String(length=16), nullable=False),
        sa.Column("price_fen", sa.Integer(), nullable=False),
        sa.Column("updated_at", UTCDateTime(), nullable=False),
        sa.ForeignKeyConstraint(
            ["merchant_id"],
            ["merchants.id"],
            name=op.f("fk_merchant_products_merchant_id_merchants"),
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_merchant_products")),
        sa.UniqueConstraint("merchant_id", "name", name=op.f("uq_merchant_products_merchant_id")),
    )
    op.create_index(op.f("ix_merchant_products_merchant_id"), "merchant_products", ["merchant_id"])
    op.create_table(
        "groupbuys",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("community_id", sa.Integer(), nullable=False),
        sa.Column("merchant_id", sa.Integer(), nullable=False),
        sa.Column("created_by", sa.BigInteger(), nullable=False),
        sa.Column("created_at", UTCDateTime(), nullable=False),
        sa.Column("deadline_at", UTCDateTime(), nullable=False),
        sa.Column("delivery_day", sa.Date(), nullable=False),
        sa.Column("status", sa.String(length=12), nullable=False),
        sa.Column("closed_at", UTCDateTime(), nullable=True),
        sa.Column("confirmed_at", UTCDateTime(), nullable=True),
        sa.Column("confirmed_by", sa.BigInteger(), nullable=True),
        sa.Column("delivered_at", UTCDateTime(), nullable=True),
        sa.Column("delivered_photo", sa.String(length=256), nullable=True),
        sa.ForeignKeyConstraint(
            ["community_id"], ["communities.id"], name=op.f("fk_groupbuys_community_id_communities")
        ),
        sa.ForeignKeyConstraint(
            ["merchant_id"], ["merchants.id"], name=op.f("fk_groupbuys_merchant_id_merchants")
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_groupbuys")),
    )
    op.create_index(op.f("ix_groupbuys_community_id"), "groupbuys", ["community_id"])
    op.create_index(op.f("ix_groupbuys_merchant_id"), "groupbuys", ["merchant_id"])
    op.create_index("ix_groupbuys_due", "groupbuys", ["status", "deadline_at"])
    op.create_table(
        "groupbuy_buildings",
        sa.Column("groupbuy_id", sa.Integer(), nullable=False),
        sa.Column("building_id", sa.Integer(), nullable=False),
        sa.ForeignKeyConstraint(
            ["groupbuy_id"],
            ["groupbuys.id"],
            name=op.f("fk_groupbuy_buildings_groupbuy_id_groupbuys"),
        ),
        sa.ForeignKeyConstraint(
            ["building_id"],
            ["buildings.id"],
            name=op.f("fk_groupbuy_buildings_building_id_buildings"),
        ),
        sa.PrimaryKeyConstraint("groupbuy_id", "building_id", name=op.f("pk_groupbuy_buildings")),
    )
    op.create_table(
        "groupbuy_items",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("groupbuy_id", sa.Integer(), nullable=False),
        sa.Column("product_id", sa.Integer(), nullable=True),
        sa.Column("name", sa.String(length=64), nullable=False),
        sa.Column("unit", sa.String(length=16), nullable=False),
        sa.Column("price_fen", sa.Integer(), nullable=False),
        sa.Column("per_household", sa.Integer(), nullable=False),
        sa.Column("position", sa.Integer(), nullable=False),
        sa.ForeignKeyConstraint(
            ["groupbuy_id"], ["groupbuys.id"], name=op.f("fk_groupbuy_items_groupbuy_id_groupbuys")
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_groupbuy_items")),
    )
    op.create_index(op.f("ix_groupbuy_items_groupbuy_id"), "groupbuy_items", ["groupbuy_id"])
    op.create_table(
        "groupbuy_lines",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("groupbuy_id", sa.Integer(), nullable=False),
        sa.Column("item_id", sa.Integer(), nullable=False),
        sa.Column("resident_id", sa.Integer(), nullable=False),
        sa.Column("quantity", sa.Integer(), nullable=False),
        sa.Column("updated_at", UTCDateTime(), nullable=False),
        sa.ForeignKeyConstraint(
            ["groupbuy_id"], ["groupbuys.id"], name=op.f("fk_groupbuy_lines_groupbuy_id_groupbuys")
        ),
        sa.ForeignKeyConstraint(
            ["item_id"],
            ["groupbuy_items.id"],
            name=op.f("fk_groupbuy_lines_item_id_groupbuy_items"),
        ),
        sa.ForeignKeyConstraint(
            ["resident_id"], ["residents.id"], name=op.f("fk_groupbuy_lines_resident_id_residents")
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_groupbuy_lines")),
        sa.UniqueConstraint("item_id", "resident_id", name=op.f("uq_groupbuy_lines_item_id")),
    )
    op.create_index(op.f("ix_groupbuy_lines_groupbuy_id"), "groupbuy_lines", ["groupbuy_id"])
    op.create_index(op.f("ix_groupbuy_lines_resident_id"), "groupbuy_lines", ["resident_id"])
    op.create_table(
        "groupbuy_runs",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("groupbuy_id", sa.Integer(), nullable=False),
        sa.Column("building_id", sa.Integer(), nullable=False),
        sa.Column("volunteer_telegram_id", sa.BigInteger(), nullable=True),
        sa.Column("claimed_at", UTCDateTime(), nullable=True),
        sa.Column("done_at", UTCDateTime(), nullable=True),
        sa.ForeignKeyConstraint(
            ["groupbuy_id"], ["groupbuys.id"], name=op.f("fk_groupbuy_runs_groupbuy_id_groupbuys")
        ),
        sa.ForeignKeyConstraint(
            ["building_id"], ["buildings.id"], name=op.f("fk_groupbuy_runs_building_id_buildings")
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_groupbuy_runs")),
        sa.UniqueConstraint(
            "groupbuy_id", "building_id", name=op.f("uq_groupbuy_runs_groupbuy_id")
        ),
    )
    op.create_table(
        "groupbuy_doors",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("run_id", sa.Integer(), nullable=False),
        sa.Column("resident_id", sa.Integer(), nullable=False),
        sa.Column("delivered_at", UTCDateTime(), nullable=True),
        sa.Column("delivered_by", sa.BigInteger(), nullable=True),
        sa.ForeignKeyConstraint(
            ["run_id"], ["groupbuy_runs.id"], name=op.f("fk_groupbuy_doors_run_id_groupbuy_runs")
        ),
        sa.ForeignKeyConstraint(
            ["resident_id"], ["residents.id"], name=op.f("fk_groupbuy_doors_resident_id_residents")
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_groupbuy_doors")),
        sa.UniqueConstraint("run_id", "resident_id", name=op.f("uq_groupbuy_doors_run_id")),
    )
    op.create_index(op.f("ix_groupbuy_doors_run_id"), "groupbuy_doors", ["run_id"])
    with op.batch_alter_table("notices") as batch:
        batch.add_column(sa.Column("groupbuy_id", sa.Integer(), nullable=True))


def downgrade() -> None:
    with op.batch_alter_table("notices") as batch:
        batch.drop_column("groupbuy_id")
    for table in (
        "groupbuy_doors",
        "groupbuy_runs",
        "groupbuy_lines",
        "groupbuy_items",
        "groupbuy_buildings",
        "groupbuys",
        "merchant_products",
        "merchant_communities",
        "merchants",
    ):
        op.drop_table(table)
