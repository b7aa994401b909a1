"""payment: a volunteer's payment QR code (a Telegram file id on their row), and on each order
who said it was paid and who confirmed the money was received, and when.

Revision ID: 0019
Revises: 0018
Create Date: 2026-12-01 11:10:00
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

import models.base

revision: str = "0019"
down_revision: str | Sequence[str] | None = "0018"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    with op.batch_alter_table("volunteers", schema=None) as batch_op:
        batch_op.add_column(sa.Column("pay_qr", sa.String(length=256), nullable=True))
    with op.batch_alter_table("orders", schema=None) as batch_op:
        batch_op.add_column(sa.Column("paid_at", models.base.UTCDateTime(), nullable=True))
        batch_op.add_column(sa.Column("paid_by", sa.BigInteger(), nullable=True))
        batch_op.add_column(
            sa.Column("paid_confirmed_at", models.base.UTCDateTime(), nullable=True)
        )
        batch_op.add_column(sa.Column("paid_confirmed_by", sa.BigInteger(), nullable=True))


def downgrade() -> None:
    with op.batch_alter_table("orders", schema=None) as batch_op:
        batch_op.drop_column("paid_confirmed_by")
        batch_op.drop_column("paid_confirmed_at")
        batch_op.drop_column("paid_by")
        batch_op.drop_column("paid_at")
    with op.batch_alter_table("volunteers", schema=None) as batch_op:
        batch_op.drop_column("pay_qr")
