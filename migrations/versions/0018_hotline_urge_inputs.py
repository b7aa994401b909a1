"""i15_relay: a community's hotline (told to a resident whose order nobody takes), 催一催 on an
order (when the resident last urged it and how often), messages held for the runner of an order
nobody has taken yet, and what a resident typed outside any conversation during an order.

Revision ID: 0018
Revises: 0017
Create Date: 2026-12-01 11:20:00
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

from models.base import UTCDateTime

revision: str = "0018"
down_revision: str | Sequence[str] | None = "0017"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    with op.batch_alter_table("communities") as batch:
        batch.add_column(sa.Column("hotline", sa.String(length=32), nullable=True))
    with op.batch_alter_table("orders") as batch:
        batch.add_column(sa.Column("urged_at", UTCDateTime(), nullable=True))
        batch.add_column(sa.Column("urge_count", sa.Integer(), nullable=False, server_default="0"))
    with op.batch_alter_table("order_messages") as batch:
        batch.add_column(sa.Column("held", sa.Boolean(), nullable=False, server_default="0"))
    op.create_table(
        "resident_inputs",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("telegram_id", sa.BigInteger(), nullable=False),
        sa.Column("text", sa.Text(), nullable=True),
        sa.Column("photo", sa.String(length=256), nullable=True),
        sa.Column("at", UTCDateTime(), nullable=False),
        sa.Column("order_id", sa.Integer(), nullable=True),
        sa.Column("outcome", sa.String(length=16), nullable=True),
        sa.Column("message_id", sa.Integer(), nullable=True),
        sa.ForeignKeyConstraint(
            ["message_id"],
            ["order_messages.id"],
            name=op.f("fk_resident_inputs_message_id_order_messages"),
        ),
        sa.ForeignKeyConstraint(
            ["order_id"], ["orders.id"], name=op.f("fk_resident_inputs_order_id_orders")
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_resident_inputs")),
    )
    op.create_index(
        op.f("ix_resident_inputs_telegram_id"), "resident_inputs", ["telegram_id"], unique=False
    )


def downgrade() -> None:
    op.drop_index(op.f("ix_resident_inputs_telegram_id"), table_name="resident_inputs")
    op.drop_table("resident_inputs")
    with op.batch_alter_table("order_messages") as batch:
        batch.drop_column("held")
    with op.batch_alter_table("orders") as batch:
        batch.drop_column("urge_count")
        batch.drop_column("urged_at")
    with op.batch_alter_table("communities") as batch:
        batch.drop_column("hotline")
