"""What the bot owes Telegram and what it received from it, and the state kept for that across
instances: the outbox and the inbox, which bot of a district a chat talks to, saved
conversation state, and the flood guard's counters."""

from __future__ import annotations

from datetime import datetime
from typing import Any

from sqlalchemy import (
    JSON,
    BigInteger,
    Boolean,
    Float,
    ForeignKey,
    Index,
    Integer,
    String,
    Text,
)
from sqlalchemy.orm import Mapped, declared_attr, mapped_column

from models.base import Base, UTCDateTime
from models.enums import OutboxKind, OutboxStatus


class OutboxMessage(Base):
    """A message the system owes someone, written in the same transaction as the change."""

    __tablename__ = "outbox"
    __table_args__ = (
        Index("ix_outbox_status_priority", "status", "priority", "id"),
        # The retention sweep: rows not yet redacted, oldest first (one range scan).
        Index("ix_outbox_redaction", "redacted_at", "created_at"),
    )

    id: Mapped[int] = mapped_column(primary_key=True)
    channel: Mapped[str] = mapped_column(String(16), default="telegram")
    priority: Mapped[int] = mapped_column(Integer, default=0)
    chat_id: Mapped[int] = mapped_column(BigInteger)
    is_group: Mapped[bool] = mapped_column(Boolean, default=False)
    kind: Mapped[OutboxKind] = mapped_column(String(8), default=OutboxKind.SEND)
    text: Mapped[str] = mapped_column(Text)
    # Inline buttons: [[{"text": ..., "data": ...}, ...], ...]; None keeps an edit's buttons off.
    buttons: Mapped[list[list[dict[str, Any]]] | None] = mapped_column(JSON)
    photo: Mapped[str | None] = mapped_column(String(256))  # a file id; `media` says what
    media: Mapped[str | None] = mapped_column(String(16))  # photo | voice
    # For an edit: the outbox row whose delivered message is edited.
    edit_of: Mapped[int | None] = mapped_column(ForeignKey("outbox.id"))
    status: Mapped[OutboxStatus] = mapped_column(String(8), default=OutboxStatus.PENDING)
    attempts: Mapped[int] = mapped_column(Integer, default=0)
    next_attempt_at: Mapped[datetime] = mapped_column(UTCDateTime())
    lease_until: Mapped[datetime | None] = mapped_column(UTCDateTime())
    message_id: Mapped[int | None] = mapped_column(BigInteger)
    error: Mapped[str | None] = mapped_column(Text)
    created_at: Mapped[datetime] = mapped_column(UTCDateTime())
    sent_at: Mapped[datetime | None] = mapped_column(UTCDateTime())
    # When the text, buttons and file id were blanked ([privacy] retention_days, or a
    # household forgotten); the ids, status and message id stay for edits and counts.
    redacted_at: Mapped[datetime | None] = mapped_column(UTCDateTime())
    # When the operator was told this row failed, or (still pending) that delivery is stuck:
    # each incident is reported once.
    reported_at: Mapped[datetime | None] = mapped_column(UTCDateTime())
    # One bot per community: the bot that sent it, so that an edit goes through the same bot.
    sent_by: Mapped[str | None] = mapped_column(String(32))


class InboxUpdate(Base):
    """Every incoming update, recorded before it is acknowledged (DESIGN rule 5). Update ids
    are per bot: the key is (bot, update_id), ``bot`` the ``[[bots]]`` name ("" for [bot])."""

    __tablename__ = "inbox"
    __table_args__ = (
        Index("ix_inbox_pending", "processed_at"),
        Index("ix_inbox_serial", "serial_key", "update_id"),
    )

    # The ORM still knows a row by its update_id (``session.get(InboxUpdate, update_id)``):
    # every read of ORM rows is one bot's (bot.inbox), so no two in a session share an id.
    @declared_attr.directive
    def __mapper_args__(cls) -> dict[str, Any]:
        return {"primary_key": [cls.__table__.c.update_id]}

    bot: Mapped[str] = mapped_column(String(32), primary_key=True, default="", server_default="")
    update_id: Mapped[int] = mapped_column(BigInteger, primary_key=True, autoincrement=False)
    payload: Mapped[str] = mapped_column(Text)
    received_at: Mapped[datetime] = mapped_column(UTCDateTime())
    processed_at: Mapped[datetime | None] = mapped_column(UTCDateTime())
    attempts: Mapped[int] = mapped_column(Integer, default=0)
    error: Mapped[str | None] = mapped_column(Text)
    # Several instances on one database: whose the update is while it is handled, until when
    # (taken over after), and the key that keeps one user's updates in order.
    serial_key: Mapped[str | None] = mapped_column(String(32))
    claimed_by: Mapped[str | None] = mapped_column(String(64))
    lease_until: Mapped[datetime | None] = mapped_column(UTCDateTime())


class ChatBot(Base):
    """Which bot of a district (``[[bots]]``) a chat talks to: the last one an update from the
    chat reached. That bot sends the chat's outbox rows (a chat in no row: the first bot)."""

    __tablename__ = "chat_bots"
    __table_args__ = (Index("ix_chat_bots_bot", "bot", "chat_id"),)

    chat_id: Mapped[int] = mapped_column(BigInteger, primary_key=True, autoincrement=False)
    bot: Mapped[str] = mapped_column(String(32))


class ChatState(Base):
    """Where a person is in a conversation (a half-filled form) and its scratch data, so that a
    restart of the bot does not drop it and every instance on the database continues it.
    Written after every update that changed it."""

    __tablename__ = "chat_state"

    kind: Mapped[str] = mapped_column(String(8), primary_key=True)  # conv | user
    name: Mapped[str] = mapped_column(String(32), primary_key=True)  # conversation name
    key: Mapped[str] = mapped_column(String(64), primary_key=True)
    data: Mapped[Any] = mapped_column(JSON)
    updated_at: Mapped[datetime] = mapped_column(UTCDateTime())
    # A fresh random stamp at every write: an instance that knows the stamp it last read or
    # wrote sees at once whether another instance wrote since (equality only, no order).
    version: Mapped[int] = mapped_column(BigInteger, default=0, server_default="0")


class FloodCounter(Base):
    """One person's recent private updates, shared by every instance (the flood guard): the
    times of their updates within the last minute and when they were last warned."""

    __tablename__ = "flood_counters"

    telegram_id: Mapped[int] = mapped_column(BigInteger, primary_key=True)
    hits: Mapped[list[float]] = mapped_column(JSON)
    warned_at: Mapped[float | None] = mapped_column(Float)
    last_at: Mapped[float] = mapped_column(Float, index=True)
