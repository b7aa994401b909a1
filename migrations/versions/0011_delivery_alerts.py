"""outbox: when a failed or long-waiting message was reported to the operator; grids: the
group the bot lost, once its staff were told

Revision ID: 0011
Revises: 0010
Create Date: 2026-11-30 12:30:00
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

import models.base

revision: str = "0011"
down_revision: str | Sequence[str] | None = "0010"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    op.add_column("outbox", sa.Column("reported_at", models.base.UTCDateTime(), nullable=True))
    op.add_column("grids", sa.Column("group_lost_chat_id", sa.BigInteger(), nullable=True))


def downgrade() -> None:
    with op.batch_alter_table("grids") as batch:
        batch.drop_column("group_lost_chat_id")
    with op.batch_alter_table("outbox") as batch:
        batch.drop_column("reported_at")
