"""i15_staff_alerts: staff alerts and their copies, so that "✅ Handled" records who handled an
alert and when, and the others who got it are shown so.

Revision ID: 0020
Revises: 0019
Create Date: 2026-12-01 11:30:00
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

from models.base import UTCDateTime

revision: str = "0020"
down_revision: str | Sequence[str] | None = "0019"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    op.create_table(
        "staff_alerts",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("kind", sa.String(length=24), nullable=False),
        sa.Column("order_id", sa.Integer(), nullable=True),
        sa.Column("resident_id", sa.Integer(), nullable=True),
        sa.Column("created_at", UTCDateTime(), nullable=False),
        sa.Column("handled_by", sa.BigInteger(), nullable=True),
        sa.Column("handled_at", UTCDateTime(), nullable=True),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_staff_alerts")),
    )
    op.create_index("ix_staff_alerts_open", "staff_alerts", ["handled_at", "id"])
    op.create_table(
        "staff_alert_copies",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("alert_id", sa.Integer(), nullable=False),
        sa.Column("telegram_id", sa.BigInteger(), nullable=False),
        sa.Column("outbox_id", sa.Integer(), nullable=False),
        sa.ForeignKeyConstraint(
            ["alert_id"],
            ["staff_alerts.id"],
            name=op.f("fk_staff_alert_copies_alert_id_staff_alerts"),
        ),
        sa.ForeignKeyConstraint(
            ["outbox_id"], ["outbox.id"], name=op.f("fk_staff_alert_copies_outbox_id_outbox")
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_staff_alert_copies")),
    )
    op.create_index(op.f("ix_staff_alert_copies_alert_id"), "staff_alert_copies", ["alert_id"])
    op.create_index(
        op.f("ix_staff_alert_copies_telegram_id"), "staff_alert_copies", ["telegram_id"]
    )


def downgrade() -> None:
    op.drop_table("staff_alert_copies")
    op.drop_table("staff_alerts")
