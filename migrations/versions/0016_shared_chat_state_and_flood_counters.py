"""shared_chat_state_and_flood_counters: several instances on one database. Each
``chat_state`` row gets a version stamp (a fresh random number at every write), so an instance
sees whether another one wrote a person's form since it last read it and writes only over
what it read; and ``flood_counters`` holds each person's recent private updates, so the flood
guard counts across instances.

Revision ID: 0016
Revises: 0015
Create Date: 2026-12-01 04:10:00
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0016"
down_revision: str | Sequence[str] | None = "0015"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    with op.batch_alter_table("chat_state") as batch:
        batch.add_column(sa.Column("version", sa.BigInteger(), nullable=False, server_default="0"))
    op.create_table(
        "flood_counters",
        sa.Column("telegram_id", sa.BigInteger(), nullable=False),
        sa.Column("hits", sa.JSON(), nullable=False),
        sa.Column("warned_at", sa.Float(), nullable=True),
        sa.Column("last_at", sa.Float(), nullable=False),
        sa.PrimaryKeyConstraint("telegram_id", name=op.f("pk_flood_counters")),
    )
    op.create_index(op.f("ix_flood_counters_last_at"), "flood_counters", ["last_at"])


def downgrade() -> None:
    op.drop_index(op.f("ix_flood_counters_last_at"), table_name="flood_counters")
    op.drop_table("flood_counters")
    with op.batch_alter_table("chat_state") as batch:
        batch.drop_column("version")
