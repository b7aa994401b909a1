"""Partner merchants (爱心商家), their product lists, and building group-buys (团购 / 接龙, issue
17). Money is integer fen, as everywhere (bot/services/amounts.py). A group-buy's items copy the
product's name, unit and price when it opens, so a later re-import of the list never changes
what residents signed up for. Its deadline is data: the sweep closes it once, by a conditional
UPDATE on ``status``."""

from __future__ import annotations

from datetime import date, datetime

from sqlalchemy import (
    BigInteger,
    Date,
    ForeignKey,
    Index,
    Integer,
    String,
    UniqueConstraint,
)
from sqlalchemy.orm import Mapped, mapped_column

from models.base import Base, UTCDateTime


class Merchant(Base):
    __tablename__ = "merchants"

    id: Mapped[int] = mapped_column(primary_key=True)
    name: Mapped[str] = mapped_column(String(64), unique=True)
    kind: Mapped[str] = mapped_column(String(16))  # 超市 / 药店 / 菜店, as staff call it
    # The contact person: gets the consolidated orders and marks them delivered.
    contact_telegram_id: Mapped[int] = mapped_column(BigInteger, index=True)
    created_at: Mapped[datetime] = mapped_column(UTCDateTime())


class MerchantCommunity(Base):
    """A community a merchant serves."""

    __tablename__ = "merchant_communities"

    merchant_id: Mapped[int] = mapped_column(ForeignKey("merchants.id"), primary_key=True)
    community_id: Mapped[int] = mapped_column(ForeignKey("communities.id"), primary_key=True)


class Product(Base):
    __tablename__ = "merchant_products"
    # A re-import updates a product by its name.
    __table_args__ = (UniqueConstraint("merchant_id", "name"),)

    id: Mapped[int] = mapped_column(primary_key=True)
    merchant_id: Mapped[int] = mapped_column(ForeignKey("merchants.id"), index=True)
    name: Mapped[str] = mapped_column(String(64))
    unit: Mapped[str] = mapped_column(String(16))
    price_fen: Mapped[int] = mapped_column(Integer)
    updated_at: Mapped[datetime] = mapped_column(UTCDateTime())


class GroupBuy(Base):
    __tablename__ = "groupbuys"
    # The sweep: the open group-buys past their deadline.
    __table_args__ = (Index("ix_groupbuys_due", "status", "deadline_at"),)

    id: Mapped[int] = mapped_column(primary_key=True)
    community_id: Mapped[int] = mapped_column(ForeignKey("communities.id"), index=True)
    merchant_id: Mapped[int] = mapped_column(ForeignKey("merchants.id"), index=True)
    created_by: Mapped[int] = mapped_column(BigInteger)
    created_at: Mapped[datetime] = mapped_column(UTCDateTime())
    deadline_at: Mapped[datetime] = mapped_column(UTCDateTime())
    delivery_day: Mapped[date] = mapped_column(Date)
    # open -> closed (the sweep, at the deadline) -> confirmed (staff) -> delivered (merchant)
    status: Mapped[str] = mapped_column(String(12), default="open")
    closed_at: Mapped[datetime | None] = mapped_column(UTCDateTime())
    confirmed_at: Mapped[datetime | None] = mapped_column(UTCDateTime())
    confirmed_by: Mapped[int | None] = mapped_column(BigInteger)
    delivered_at: Mapped[datetime | None] = mapped_column(UTCDateTime())
    delivered_photo: Mapped[str | None] = mapped_column(String(256))
    # How households pay: "on_delivery" (cash or transfer at the door) or "online" (paid in
    # advance); each household's payment is recorded on its door (GroupBuyDoor.paid_at).
    payment: Mapped[str] = mapped_column(
        String(12), default="on_delivery", server_default="on_delivery"
    )


class GroupBuyBuilding(Base):
    __tablename__ = "groupbuy_buildings"

    groupbuy_id: Mapped[int] = mapped_column(ForeignKey("groupbuys.id"), primary_key=True)
    building_id: Mapped[int] = mapped_column(ForeignKey("buildings.id"), primary_key=True)


class GroupBuyItem(Base):
    __tablename__ = "groupbuy_items"

    id: Mapped[int] = mapped_column(primary_key=True)
    groupbuy_id: Mapped[int] = mapped_column(ForeignKey("groupbuys.id"), index=True)
    product_id: Mapped[int | None] = mapped_column(Integer)
    name: Mapped[str] = mapped_column(String(64))
    unit: Mapped[str] = mapped_column(String(16))
    price_fen: Mapped[int] = mapped_column(Integer)
    per_household: Mapped[int] = mapped_column(Integer)  # the most one household may take
    position: Mapped[int] = mapped_column(Integer, default=0)


class GroupBuyLine(Base):
    """How many of an item one household takes (0 once taken back: the row stays)."""

    __tablename__ = "groupbuy_lines"
    __table_args__ = (UniqueConstraint("item_id", "resident_id"),)

    id: Mapped[int] = mapped_column(primary_key=True)
    groupbuy_id: Mapped[int] = mapped_column(ForeignKey("groupbuys.id"), index=True)
    item_id: Mapped[int] = mapped_column(ForeignKey("groupbuy_items.id"))
    resident_id: Mapped[int] = mapped_column(ForeignKey("residents.id"), index=True)
    quantity: Mapped[int] = mapped_column(Integer, default=0)
    updated_at: Mapped[datetime] = mapped_column(UTCDateTime())


class GroupBuyRun(Base):
    """One building's share of a delivered group-buy: the packing list a volunteer of its
    grid takes (one wins: a conditional UPDATE on ``volunteer_telegram_id``) and carries up."""

    __tablename__ = "groupbuy_runs"
    __table_args__ = (UniqueConstraint("groupbuy_id", "building_id"),)

    id: Mapped[int] = mapped_column(primary_key=True)
    groupbuy_id: Mapped[int] = mapped_column(ForeignKey("groupbuys.id"))
    building_id: Mapped[int] = mapped_column(ForeignKey("buildings.id"))
    volunteer_telegram_id: Mapped[int | None] = mapped_column(BigInteger)
    claimed_at: Mapped[datetime | None] = mapped_column(UTCDateTime())
    done_at: Mapped[datetime | None] = mapped_column(UTCDateTime())
    # The building's status said "pickup" when its share reached the point: its households
    # fetch it at this place (no FK: a place may be re-imported); None: carried to the doors.
    pickup_place_id: Mapped[int | None] = mapped_column(Integer)
    # One photo for the whole building (📷 整栋送达), its remaining doors marked with it.
    photo: Mapped[str | None] = mapped_column(String(256))


class GroupBuyDoor(Base):
    """A household of a run: marked delivered at its door once."""

    __tablename__ = "groupbuy_doors"
    __table_args__ = (UniqueConstraint("run_id", "resident_id"),)

    id: Mapped[int] = mapped_column(primary_key=True)
    run_id: Mapped[int] = mapped_column(ForeignKey("groupbuy_runs.id"), index=True)
    resident_id: Mapped[int] = mapped_column(ForeignKey("residents.id"))
    delivered_at: Mapped[datetime | None] = mapped_column(UTCDateTime())
    delivered_by: Mapped[int | None] = mapped_column(BigInteger)
    # The household's ✅ 已收到 (once: a conditional UPDATE on an empty received_at).
    received_at: Mapped[datetime | None] = mapped_column(UTCDateTime())
    # Paid, once: "cash" marked by the volunteer or staff, "resident" the household's own ✅.
    paid_at: Mapped[datetime | None] = mapped_column(UTCDateTime())
    paid_how: Mapped[str | None] = mapped_column(String(12))
    paid_by: Mapped[int | None] = mapped_column(BigInteger)


class GroupBuyProblem(Base):
    """Something missing, wrong or damaged in a household's share: one per household and item
    (its door and item). Staff are alerted (``alert_id``: handled once, who and when, through
    the staff alerts); the merchant's contact is told the door, never a name or phone."""

    __tablename__ = "groupbuy_problems"
    __table_args__ = (UniqueConstraint("door_id", "item_id"),)

    id: Mapped[int] = mapped_column(primary_key=True)
    groupbuy_id: Mapped[int] = mapped_column(ForeignKey("groupbuys.id"), index=True)
    door_id: Mapped[int] = mapped_column(ForeignKey("groupbuy_doors.id"))
    item_id: Mapped[int] = mapped_column(ForeignKey("groupbuy_items.id"))
    kind: Mapped[str] = mapped_column(String(12))  # missing / wrong / damaged
    note: Mapped[str | None] = mapped_column(String(500))
    photo: Mapped[str | None] = mapped_column(String(256))
    reported_at: Mapped[datetime] = mapped_column(UTCDateTime())
    alert_id: Mapped[int | None] = mapped_column(Integer)


class GroupBuyMessage(Base):
    """A message about a group-buy that is kept true after it was sent, edited through the
    outbox when the group-buy moves on: a household's ＋/－ card (``kind`` "card", with its
    ``resident_id``: every card shown to it), a staff member's summary ("summary"), the
    merchant's order ("merchant"). ``outbox_id`` is the row that sent it."""

    __tablename__ = "groupbuy_messages"
    __table_args__ = (Index("ix_groupbuy_messages_kind", "groupbuy_id", "kind"),)

    id: Mapped[int] = mapped_column(primary_key=True)
    groupbuy_id: Mapped[int] = mapped_column(ForeignKey("groupbuys.id"))
    kind: Mapped[str] = mapped_column(String(8))
    resident_id: Mapped[int | None] = mapped_column(ForeignKey("residents.id"))
    outbox_id: Mapped[int] = mapped_column(ForeignKey("outbox.id"))
