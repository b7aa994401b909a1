"""volunteer suspension: who took a volunteer off, when and why

The state itself is the volunteers.status string ("suspended"), so every query that asks for
"approved" volunteers leaves a suspended one out without further change.

Revision ID: 0009
Revises: 0008
Create Date: 2026-11-30 12:40:00.000000
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

import models.base

revision: str = "0009"
down_revision: str | Sequence[str] | None = "0008"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    with op.batch_alter_table("volunteers", schema=None) as batch_op:
        batch_op.add_column(sa.Column("suspended_at", models.base.UTCDateTime(), nullable=True))
        batch_op.add_column(sa.Column("suspended_by", sa.BigInteger(), nullable=True))
        batch_op.add_column(sa.Column("suspended_reason", sa.Text(), nullable=True))


def downgrade() -> None:
    with op.batch_alter_table("volunteers", schema=None) as batch_op:
        batch_op.drop_column("suspended_reason")
        batch_op.drop_column("suspended_by")
        batch_op.drop_column("suspended_at")
