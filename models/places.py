"""Places of a community (issue 17): distribution points (物资配送点) and checkpoints (卡口),
each serving some buildings (``buildings.place_id``); and the history of a building's status
(封控区 / 管控区 / 防范区, or the labels the config gives), one row per change, so the status at
any time is the last row in effect then. A change set for later is a timer (DESIGN rule 3): the
sweep applies it once, claiming the row with a conditional UPDATE on ``applied_at``."""

from __future__ import annotations

from datetime import datetime

from sqlalchemy import BigInteger, ForeignKey, Index, Integer, String, UniqueConstraint
from sqlalchemy.orm import Mapped, mapped_column

from models.base import Base, UTCDateTime

POINT, CHECKPOINT = "point", "checkpoint"
PLACE_KINDS = (POINT, CHECKPOINT)


class Place(Base):
    __tablename__ = "places"
    __table_args__ = (UniqueConstraint("community_id", "name"),)

    id: Mapped[int] = mapped_column(primary_key=True)
    community_id: Mapped[int] = mapped_column(ForeignKey("communities.id"), index=True)
    name: Mapped[str] = mapped_column(String(100))
    kind: Mapped[str] = mapped_column(String(16), default=POINT)  # point | checkpoint
    location: Mapped[str | None] = mapped_column(String(200))  # "北门外", as people say it
    pickup_times: Mapped[str | None] = mapped_column(String(200))  # "每天 9:00-11:00"


class BuildingStatus(Base):
    """One change of a building's status: what, from when, who set it, and when it was
    applied (None: still waiting for its time)."""

    __tablename__ = "building_statuses"
    # The sweep: the changes not yet applied, by their time.
    __table_args__ = (Index("ix_building_statuses_due", "applied_at", "effective_at"),)

    id: Mapped[int] = mapped_column(primary_key=True)
    building_id: Mapped[int] = mapped_column(ForeignKey("buildings.id"), index=True)
    status: Mapped[str] = mapped_column(String(32))  # a key of [building_status] in the config
    # Its label when it was set, as the ledger shows it (the config may be relabelled since).
    label: Mapped[str] = mapped_column(String(20))
    effective_at: Mapped[datetime] = mapped_column(UTCDateTime())
    set_by: Mapped[int] = mapped_column(BigInteger)
    created_at: Mapped[datetime] = mapped_column(UTCDateTime())
    applied_at: Mapped[datetime | None] = mapped_column(UTCDateTime())
    cancelled_at: Mapped[datetime | None] = mapped_column(UTCDateTime())
    # The notice that told the building's residents (the notice machinery's receipts).
    notice_id: Mapped[int | None] = mapped_column(Integer)
