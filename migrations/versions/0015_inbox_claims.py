"""inbox_claims: several instances on one database share the inbox. An update is claimed
(claimed_by, lease_until) before it is handled, so each is handled once, and taken over when
the lease of a dead instance runs out; serial_key keeps one user's updates in order across
instances (an update waits while an earlier one of its key is pending elsewhere).

Revision ID: 0015
Revises: 0014
Create Date: 2026-12-01 04:00:00
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

import models.base

revision: str = "0015"
down_revision: str | Sequence[str] | None = "0014"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    op.add_column("inbox", sa.Column("serial_key", sa.String(length=32), nullable=True))
    op.add_column("inbox", sa.Column("claimed_by", sa.String(length=64), nullable=True))
    op.add_column("inbox", sa.Column("lease_until", models.base.UTCDateTime(), nullable=True))
    op.create_index("ix_inbox_serial", "inbox", ["serial_key", "update_id"])


def downgrade() -> None:
    op.drop_index("ix_inbox_serial", table_name="inbox")
    with op.batch_alter_table("inbox") as batch:
        batch.drop_column("lease_until")
        batch.drop_column("claimed_by")
        batch.drop_column("serial_key")
