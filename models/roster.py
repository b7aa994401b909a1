"""The roster's tables: who is on which shift of a grid, swaps asked between volunteers, and
the handover post at each shift change."""

from __future__ import annotations

from datetime import datetime
from typing import TYPE_CHECKING

from sqlalchemy import BigInteger, ForeignKey, String, UniqueConstraint
from sqlalchemy.orm import Mapped, mapped_column, relationship

from models.base import Base, UTCDateTime

if TYPE_CHECKING:
    from models.tables import Volunteer


class Shift(Base):
    """One volunteer rostered on one shift of a grid (a template's day or night, on a date)."""

    __tablename__ = "shifts"
    __table_args__ = (UniqueConstraint("grid_id", "volunteer_id", "starts_at"),)

    id: Mapped[int] = mapped_column(primary_key=True)
    grid_id: Mapped[int] = mapped_column(ForeignKey("grids.id"), index=True)
    volunteer_id: Mapped[int] = mapped_column(ForeignKey("volunteers.id"), index=True)
    template: Mapped[str | None] = mapped_column(String(16))  # the template's name: day, night
    starts_at: Mapped[datetime] = mapped_column(UTCDateTime(), index=True)
    ends_at: Mapped[datetime] = mapped_column(UTCDateTime())
    # Timers are data: set once the reminder is written to the outbox (never twice).
    reminded_at: Mapped[datetime | None] = mapped_column(UTCDateTime())
    created_by: Mapped[int | None] = mapped_column(BigInteger)
    created_at: Mapped[datetime | None] = mapped_column(UTCDateTime())

    volunteer: Mapped[Volunteer] = relationship()


class ShiftSwap(Base):
    """A volunteer asks another of the grid to take their shift; the other accepts or declines."""

    __tablename__ = "shift_swaps"

    id: Mapped[int] = mapped_column(primary_key=True)
    shift_id: Mapped[int] = mapped_column(ForeignKey("shifts.id"), index=True)
    from_volunteer_id: Mapped[int] = mapped_column(ForeignKey("volunteers.id"))
    to_volunteer_id: Mapped[int] = mapped_column(ForeignKey("volunteers.id"))
    status: Mapped[str] = mapped_column(String(16), default="pending")  # accepted, declined, ...
    created_at: Mapped[datetime] = mapped_column(UTCDateTime())
    decided_at: Mapped[datetime | None] = mapped_column(UTCDateTime())


class Handover(Base):
    """The handover post of one grid at one shift change: the unique key makes it once."""

    __tablename__ = "handovers"
    __table_args__ = (UniqueConstraint("grid_id", "at"),)

    id: Mapped[int] = mapped_column(primary_key=True)
    grid_id: Mapped[int] = mapped_column(ForeignKey("grids.id"))
    at: Mapped[datetime] = mapped_column(UTCDateTime())  # the shift change it is for
    posted_at: Mapped[datetime] = mapped_column(UTCDateTime())
