"""Staff alerts: one row per alert (a call-me request, a problem report, an escalation, a
stalled task...) and one per person who got a copy, so that "✅ Handled" records who handled
it and when, and the other copies are edited to say so."""

from __future__ import annotations

from datetime import datetime

from sqlalchemy import BigInteger, ForeignKey, Index, Integer, String
from sqlalchemy.orm import Mapped, mapped_column

from models.base import Base, UTCDateTime


class StaffAlert(Base):
    """Something staff must act on. Handled once: a conditional UPDATE on an empty
    ``handled_at`` decides who handled it; later presses are told who did."""

    __tablename__ = "staff_alerts"
    # 📋 To do: the alerts not yet handled, newest first.
    __table_args__ = (Index("ix_staff_alerts_open", "handled_at", "id"),)

    id: Mapped[int] = mapped_column(primary_key=True)
    kind: Mapped[str] = mapped_column(String(24))
    # What it is about (no foreign keys: retention may erase what an old alert points at).
    order_id: Mapped[int | None] = mapped_column(Integer)
    resident_id: Mapped[int | None] = mapped_column(Integer)
    created_at: Mapped[datetime] = mapped_column(UTCDateTime())
    handled_by: Mapped[int | None] = mapped_column(BigInteger)
    handled_at: Mapped[datetime | None] = mapped_column(UTCDateTime())


class StaffAlertCopy(Base):
    """One person's copy of an alert: the outbox row that sent it (its message is edited when
    someone handles the alert)."""

    __tablename__ = "staff_alert_copies"

    id: Mapped[int] = mapped_column(primary_key=True)
    alert_id: Mapped[int] = mapped_column(ForeignKey("staff_alerts.id"), index=True)
    telegram_id: Mapped[int] = mapped_column(BigInteger, index=True)
    outbox_id: Mapped[int] = mapped_column(ForeignKey("outbox.id"))
