"""i16_repeat_repeats: repeating errands (issue 16): the repeats table, and which repeat an
order is an occurrence of (and whether it was created late).

Revision ID: 0024
Revises: 0023
Create Date: 2026-12-01 14:30:00
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

from models.base import UTCDateTime

revision: str = "0024"
down_revision: str | Sequence[str] | None = "0023"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    op.create_table(
        "repeats",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("resident_id", sa.Integer(), nullable=False),
        sa.Column("recipient_id", sa.Integer(), nullable=True),
        sa.Column("source_order_id", sa.Integer(), nullable=True),
        sa.Column("category", sa.String(length=16), nullable=False),
        sa.Column("description", sa.Text(), nullable=False),
        sa.Column("details", sa.JSON(), nullable=False),
        sa.Column("photo", sa.String(length=256), nullable=True),
        sa.Column("voice", sa.String(length=256), nullable=True),
        sa.Column("urgency", sa.String(length=16), nullable=False),
        sa.Column("time_window", sa.String(length=16), nullable=True),
        sa.Column("payment", sa.String(length=16), nullable=True),
        sa.Column("doorstep", sa.Boolean(), nullable=False),
        sa.Column("kind", sa.String(length=8), nullable=False),
        sa.Column("weekday", sa.Integer(), nullable=True),
        sa.Column("monthday", sa.Integer(), nullable=True),
        sa.Column("at_time", sa.String(length=5), nullable=False),
        sa.Column("ends_on", sa.Date(), nullable=True),
        sa.Column("status", sa.String(length=8), nullable=False),
        sa.Column("created_by", sa.BigInteger(), nullable=False),
        sa.Column("created_at", UTCDateTime(), nullable=False),
        sa.Column("updated_at", UTCDateTime(), nullable=False),
        sa.Column("next_due_at", UTCDateTime(), nullable=True),
        sa.Column("last_fired_at", UTCDateTime(), nullable=True),
        sa.Column("resumed_at", UTCDateTime(), nullable=True),
        sa.Column("consecutive_failures", sa.Integer(), server_default="0", nullable=False),
        sa.ForeignKeyConstraint(
            ["resident_id"], ["residents.id"], name=op.f("fk_repeats_resident_id_residents")
        ),
        sa.ForeignKeyConstraint(
            ["recipient_id"], ["recipients.id"], name=op.f("fk_repeats_recipient_id_recipients")
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_repeats")),
    )
    op.create_index(op.f("ix_repeats_resident_id"), "repeats", ["resident_id"])
    op.create_index("ix_repeats_due", "repeats", ["status", "next_due_at"])
    with op.batch_alter_table("orders") as batch:
        batch.add_column(sa.Column("repeat_id", sa.Integer(), nullable=True))
        batch.add_column(sa.Column("repeat_late", sa.Boolean(), server_default="0", nullable=False))
        batch.create_index(op.f("ix_orders_repeat_id"), ["repeat_id"])


def downgrade() -> None:
    with op.batch_alter_table("orders") as batch:
        batch.drop_index(op.f("ix_orders_repeat_id"))
        batch.drop_column("repeat_late")
        batch.drop_column("repeat_id")
    op.drop_table("repeats")
