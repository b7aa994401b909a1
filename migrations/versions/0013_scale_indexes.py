"""scale_indexes: the indexes /stats and the ledger's export need at a district's scale
(100,000 households, a month of 10,000 orders a day): orders by creation time and order
events by time. Without them each /stats or /export scans every order and every event
ever recorded.

Revision ID: 0013
Revises: 0012
Create Date: 2026-11-30 17:00:00
"""

from collections.abc import Sequence

from alembic import op

revision: str = "0013"
down_revision: str | Sequence[str] | None = "0012"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    op.create_index("ix_orders_created_at", "orders", ["created_at"])
    op.create_index("ix_order_events_at", "order_events", ["at"])


def downgrade() -> None:
    op.drop_index("ix_order_events_at", table_name="order_events")
    op.drop_index("ix_orders_created_at", table_name="orders")
