"""privacy: outbox rows redacted after the retention period, households forgotten

Revision ID: 0010
Revises: 0009
Create Date: 2026-11-30 12:40:00
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

import models.base

revision: str = "0010"
down_revision: str | Sequence[str] | None = "0009"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    with op.batch_alter_table("outbox", schema=None) as batch_op:
        batch_op.add_column(sa.Column("redacted_at", models.base.UTCDateTime(), nullable=True))
        batch_op.create_index("ix_outbox_redaction", ["redacted_at", "created_at"], unique=False)
    with op.batch_alter_table("residents", schema=None) as batch_op:
        batch_op.add_column(sa.Column("forgotten_at", models.base.UTCDateTime(), nullable=True))


def downgrade() -> None:
    with op.batch_alter_table("residents", schema=None) as batch_op:
        batch_op.drop_column("forgotten_at")
    with op.batch_alter_table("outbox", schema=None) as batch_op:
        batch_op.drop_index("ix_outbox_redaction")
        batch_op.drop_column("redacted_at")
