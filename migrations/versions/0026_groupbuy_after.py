"""A group-buy's last mile (issue 17): how it is paid (online in advance / on delivery), each
household's receipt and payment on its door, and what a household reports missing, wrong or
damaged per item.

Revision ID: 0026
Revises: 0025
Create Date: 2026-12-01 17:00:00
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

from models.base import UTCDateTime

revision: str = "0026"
down_revision: str | Sequence[str] | None = "0025"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    with op.batch_alter_table("groupbuys") as batch:
        batch.add_column(
            sa.Column("payment", sa.String(length=12), server_default="on_delivery", nullable=False)
        )
    with op.batch_alter_table("groupbuy_doors") as batch:
        batch.add_column(sa.Column("received_at", UTCDateTime(), nullable=True))
        batch.add_column(sa.Column("paid_at", UTCDateTime(), nullable=True))
        batch.add_column(sa.Column("paid_how", sa.String(length=12), nullable=True))
        batch.add_column(sa.Column("paid_by", sa.BigInteger(), nullable=True))
    op.create_table(
        "groupbuy_problems",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("groupbuy_id", sa.Integer(), nullable=False),
        sa.Column("door_id", sa.Integer(), nullable=False),
        sa.Column("item_id", sa.Integer(), nullable=False),
        sa.Column("kind", sa.String(length=12), nullable=False),
        sa.Column("note", sa.String(length=500), nullable=True),
        sa.Column("photo", sa.String(length=256), nullable=True),
        sa.Column("reported_at", UTCDateTime(), nullable=False),
        sa.Column("alert_id", sa.Integer(), nullable=True),
        sa.ForeignKeyConstraint(
            ["groupbuy_id"],
            ["groupbuys.id"],
            name=op.f("fk_groupbuy_problems_groupbuy_id_groupbuys"),
        ),
        sa.ForeignKeyConstraint(
            ["door_id"],
            ["groupbuy_doors.id"],
            name=op.f("fk_groupbuy_problems_door_id_groupbuy_doors"),
        ),
        sa.ForeignKeyConstraint(
            ["item_id"],
            ["groupbuy_items.id"],
            name=op.f("fk_groupbuy_problems_item_id_groupbuy_items"),
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_groupbuy_problems")),
        sa.UniqueConstraint("door_id", "item_id", name=op.f("uq_groupbuy_problems_door_id")),
    )
    op.create_index(op.f("ix_groupbuy_problems_groupbuy_id"), "groupbuy_problems", ["groupbuy_id"])


def downgrade() -> None:
    op.drop_table("groupbuy_problems")
    with op.batch_alter_table("groupbuy_doors") as batch:
        for column in ("paid_by", "paid_how", "paid_at", "received_at"):
            batch.drop_column(column)
    with op.batch_alter_table("groupbuys") as batch:
        batch.drop_column("payment")
