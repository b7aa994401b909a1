"""The messages of a group-buy kept true as it moves on (issue 17 follow-up): each household's
＋/－ card, edited at the deadline to what it took; staff's summaries and the merchant's order,
edited when it is ordered and delivered.

Revision ID: 0029
Revises: 0028
Create Date: 2026-12-01 19:40:00
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0029"
down_revision: str | Sequence[str] | None = "0028"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    op.create_table(
        "groupbuy_messages",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("groupbuy_id", sa.Integer(), nullable=False),
        sa.Column("kind", sa.String(length=8), nullable=False),
        sa.Column("resident_id", sa.Integer(), nullable=True),
        sa.Column("outbox_id", sa.Integer(), nullable=False),
        sa.ForeignKeyConstraint(
            ["groupbuy_id"],
            ["groupbuys.id"],
            name=op.f("fk_groupbuy_messages_groupbuy_id_groupbuys"),
        ),
        sa.ForeignKeyConstraint(
            ["resident_id"],
            ["residents.id"],
            name=op.f("fk_groupbuy_messages_resident_id_residents"),
        ),
        sa.ForeignKeyConstraint(
            ["outbox_id"], ["outbox.id"], name=op.f("fk_groupbuy_messages_outbox_id_outbox")
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_groupbuy_messages")),
    )
    op.create_index(
        "ix_groupbuy_messages_kind", "groupbuy_messages", ["groupbuy_id", "kind"], unique=False
    )


def downgrade() -> None:
    op.drop_index("ix_groupbuy_messages_kind", table_name="groupbuy_messages")
    op.drop_table("groupbuy_messages")
