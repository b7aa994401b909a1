"""The care list's tables (包保): a household's care flags and its daily check-in."""

from __future__ import annotations

from datetime import date, datetime

from sqlalchemy import BigInteger, Date, ForeignKey, String, UniqueConstraint
from sqlalchemy.orm import Mapped, mapped_column

from models.base import Base, UTCDateTime
from models.enums import CareFlag


class ResidentCareFlag(Base):
    """One care flag (包保) of one household: a reason it is on the care list, its orders are
    priority and it is asked the daily check-in. Set by the household itself (with consent) or
    by staff; either may take it off."""

    __tablename__ = "care_flags"
    __table_args__ = (UniqueConstraint("resident_id", "flag"),)

    id: Mapped[int] = mapped_column(primary_key=True)
    resident_id: Mapped[int] = mapped_column(ForeignKey("residents.id"))
    flag: Mapped[CareFlag] = mapped_column(String(16))
    # Who set it: the household's own Telegram id (its declaration), or a staff member's;
    # None for a flag moved from before issue 12 whose marker was not recorded.
    set_by: Mapped[int | None] = mapped_column(BigInteger)
    set_at: Mapped[datetime] = mapped_column(UTCDateTime())


class CareCheck(Base):
    """The daily "is everything all right?" of a household on the care list: asked once a day,
    answered (fine | need | call), and the responsible person alerted at most once."""

    __tablename__ = "care_checks"
    __table_args__ = (UniqueConstraint("resident_id", "day"),)

    id: Mapped[int] = mapped_column(primary_key=True)
    resident_id: Mapped[int] = mapped_column(ForeignKey("residents.id"), index=True)
    day: Mapped[date] = mapped_column(Date)
    asked_at: Mapped[datetime] = mapped_column(UTCDateTime())
    answer: Mapped[str | None] = mapped_column(String(8))
    answered_at: Mapped[datetime | None] = mapped_column(UTCDateTime())
    alerted_at: Mapped[datetime | None] = mapped_column(UTCDateTime())
