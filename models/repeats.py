"""Repeating errands (issue 16): a household's order kept as a template and a rule (every day,
every week on a weekday, every month on a day, at a local time). The sweep creates each
occurrence as an ordinary order, claiming it first with a conditional UPDATE on
``next_due_at`` in the same transaction, so it is created once across restarts and
instances."""

from __future__ import annotations

from datetime import date, datetime
from typing import Any

from sqlalchemy import JSON, BigInteger, Boolean, Date, ForeignKey, Index, Integer, String, Text
from sqlalchemy.orm import Mapped, mapped_column

from models.base import Base, UTCDateTime


class Repeat(Base):
    __tablename__ = "repeats"
    # The sweep: the active repeats that are due.
    __table_args__ = (Index("ix_repeats_due", "status", "next_due_at"),)

    id: Mapped[int] = mapped_column(primary_key=True)
    resident_id: Mapped[int] = mapped_column(ForeignKey("residents.id"), index=True)
    recipient_id: Mapped[int | None] = mapped_column(ForeignKey("recipients.id"))
    # The order it was made from (its answers are copied below, so it may later be erased).
    source_order_id: Mapped[int | None] = mapped_column(Integer)
    # The template: the order's answers, as the form keeps them.
    category: Mapped[str] = mapped_column(String(16))
    description: Mapped[str] = mapped_column(Text)
    details: Mapped[dict[str, Any]] = mapped_column(JSON, default=dict)
    photo: Mapped[str | None] = mapped_column(String(256))
    voice: Mapped[str | None] = mapped_column(String(256))
    urgency: Mapped[str] = mapped_column(String(16))
    time_window: Mapped[str | None] = mapped_column(String(16))
    payment: Mapped[str | None] = mapped_column(String(16))
    doorstep: Mapped[bool] = mapped_column(Boolean, default=True)
    # The rule: daily | weekly (weekday 0 = Monday) | monthly (monthday 1-28), at a local time.
    kind: Mapped[str] = mapped_column(String(8))
    weekday: Mapped[int | None] = mapped_column(Integer)
    monthday: Mapped[int | None] = mapped_column(Integer)
    at_time: Mapped[str] = mapped_column(String(5))  # "07:00", the community's time zone
    ends_on: Mapped[date | None] = mapped_column(Date)  # the last local day it may fire
    # active | paused | stopped | ended (its end date passed)
    status: Mapped[str] = mapped_column(String(8), default="active")
    created_by: Mapped[int] = mapped_column(BigInteger)
    created_at: Mapped[datetime] = mapped_column(UTCDateTime())
    updated_at: Mapped[datetime] = mapped_column(UTCDateTime())
    # Timers are data: the next occurrence (UTC); None once it has ended or stopped.
    next_due_at: Mapped[datetime | None] = mapped_column(UTCDateTime())
    last_fired_at: Mapped[datetime | None] = mapped_column(UTCDateTime())
    # Last resumed: only occurrences made since count towards pausing it again.
    resumed_at: Mapped[datetime | None] = mapped_column(UTCDateTime())
    # Occurrences in a row cancelled or not done (three pause it and tell staff).
    consecutive_failures: Mapped[int] = mapped_column(Integer, default=0, server_default="0")
