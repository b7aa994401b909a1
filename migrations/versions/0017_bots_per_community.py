"""bots_per_community: a district runs one bot per community (``[[bots]]``). Update ids are
per bot, so the inbox is keyed by (bot, update_id) ("" is the single [bot] of a deployment
without ``[[bots]]``); ``chat_bots`` records which bot a chat talks to, the one that sends its
outbox rows; ``outbox.sent_by`` the bot that sent a row, the one that edits it.

Revision ID: 0017
Revises: 0016
Create Date: 2026-12-01 05:40:00
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0017"
down_revision: str | Sequence[str] | None = "0016"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    with op.batch_alter_table("inbox") as batch:
        batch.add_column(sa.Column("bot", sa.String(length=32), nullable=False, server_default=""))
        batch.drop_constraint("pk_inbox", type_="primary")
        batch.create_primary_key("pk_inbox", ["bot", "update_id"])
    op.create_table(
        "chat_bots",
        sa.Column("chat_id", sa.BigInteger(), autoincrement=False, nullable=False),
        sa.Column("bot", sa.String(length=32), nullable=False),
        sa.PrimaryKeyConstraint("chat_id", name=op.f("pk_chat_bots")),
    )
    op.create_index("ix_chat_bots_bot", "chat_bots", ["bot", "chat_id"])
    with op.batch_alter_table("outbox") as batch:
        batch.add_column(sa.Column("sent_by", sa.String(length=32), nullable=True))


def downgrade() -> None:
    with op.batch_alter_table("outbox") as batch:
        batch.drop_column("sent_by")
    op.drop_index("ix_chat_bots_bot", table_name="chat_bots")
    op.drop_table("chat_bots")
    # The rows of other bots than the single one would collide on update_id alone.
    op.execute("DELETE FROM inbox WHERE bot != ''")
    with op.batch_alter_table("inbox") as batch:
        batch.drop_constraint("pk_inbox", type_="primary")
        batch.create_primary_key("pk_inbox", ["update_id"])
        batch.drop_column("bot")
