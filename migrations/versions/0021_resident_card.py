"""i15_card_resident_card: the resident's live card of an order (issue 15). The outbox row
that sent the card, so each change edits it (and a press on any other message about the
order can be told from a press on the card).

Revision ID: 0021
Revises: 0020
Create Date: 2026-12-01 11:20:00
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0021"
down_revision: str | Sequence[str] | None = "0020"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    with op.batch_alter_table("orders") as batch:
        batch.add_column(sa.Column("resident_card_id", sa.Integer(), nullable=True))
        batch.create_foreign_key(
            op.f("fk_orders_resident_card_id_outbox"), "outbox", ["resident_card_id"], ["id"]
        )


def downgrade() -> None:
    with op.batch_alter_table("orders") as batch:
        batch.drop_constraint(op.f("fk_orders_resident_card_id_outbox"), type_="foreignkey")
        batch.drop_column("resident_card_id")
