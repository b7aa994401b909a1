"""i16_phone_orders: orders taken by phone (电话点单, issue 16). A household registered by
staff has no Telegram id yet; an order records who entered it and its channel (bot, phone);
staff may allow a volunteer to take orders by phone.

Revision ID: 0023
Revises: 0022
Create Date: 2026-12-01 14:30:00
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0023"
down_revision: str | Sequence[str] | None = "0022"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    with op.batch_alter_table("residents") as batch:
        batch.alter_column("telegram_id", existing_type=sa.BigInteger(), nullable=True)
    with op.batch_alter_table("orders") as batch:
        batch.add_column(
            sa.Column("channel", sa.String(length=8), server_default="bot", nullable=False)
        )
        batch.add_column(sa.Column("entered_by", sa.BigInteger(), nullable=True))
    with op.batch_alter_table("order_drafts") as batch:
        batch.add_column(sa.Column("entered_by", sa.BigInteger(), nullable=True))
    with op.batch_alter_table("volunteers") as batch:
        batch.add_column(
            sa.Column("can_take_phone_orders", sa.Boolean(), server_default="0", nullable=False)
        )


def downgrade() -> None:
    with op.batch_alter_table("volunteers") as batch:
        batch.drop_column("can_take_phone_orders")
    with op.batch_alter_table("order_drafts") as batch:
        batch.drop_column("entered_by")
    with op.batch_alter_table("orders") as batch:
        batch.drop_column("entered_by")
        batch.drop_column("channel")
    with op.batch_alter_table("residents") as batch:
        batch.alter_column("telegram_id", existing_type=sa.BigInteger(), nullable=False)
