"""Typed SQLAlchemy 2.0 tables. Telegram ids are BigInteger: they exceed 32 bits."""

from __future__ import annotations

from datetime import date, datetime
from typing import TYPE_CHECKING, Any

from sqlalchemy import (
    JSON,
    BigInteger,
    Boolean,
    Date,
    ForeignKey,
    Index,
    Integer,
    String,
    Text,
    UniqueConstraint,
)
from sqlalchemy.orm import Mapped, mapped_column, relationship

from models.base import Base, UTCDateTime
from models.enums import (
    OrderStatus,
    StaffRole,
    Urgency,
    VolunteerStatus,
)

if TYPE_CHECKING:
    from models.places import Place


class Community(Base):
    __tablename__ = "communities"

    id: Mapped[int] = mapped_column(primary_key=True)
    code: Mapped[str] = mapped_column(String(32), unique=True)
    name: Mapped[str] = mapped_column(String(100))
    timezone: Mapped[str] = mapped_column(String(64), default="Asia/Shanghai")
    # The number residents may call when nobody takes their order (the setup CSV's hotline;
    # none: `[community] hotline` of the config, if any).
    hotline: Mapped[str | None] = mapped_column(String(32))
    created_at: Mapped[datetime] = mapped_column(UTCDateTime())

    grids: Mapped[list[Grid]] = relationship(back_populates="community", order_by="Grid.id")


class Grid(Base):
    __tablename__ = "grids"
    __table_args__ = (UniqueConstraint("community_id", "name"),)

    id: Mapped[int] = mapped_column(primary_key=True)
    community_id: Mapped[int] = mapped_column(ForeignKey("communities.id"), index=True)
    name: Mapped[str] = mapped_column(String(100))
    # The volunteers' group chat for this grid; new tasks are posted there.
    group_chat_id: Mapped[int | None] = mapped_column(BigInteger, unique=True)
    # The group the bot was found removed from (or refused by with 403), once its staff were
    # told: a second sign of the same loss tells no one again; re-adding the bot clears it.
    group_lost_chat_id: Mapped[int | None] = mapped_column(BigInteger)

    community: Mapped[Community] = relationship(back_populates="grids")
    buildings: Mapped[list[Building]] = relationship(back_populates="grid", order_by="Building.id")


class Compound(Base):
    __tablename__ = "compounds"
    __table_args__ = (UniqueConstraint("community_id", "name"),)

    id: Mapped[int] = mapped_column(primary_key=True)
    community_id: Mapped[int] = mapped_column(ForeignKey("communities.id"), index=True)
    name: Mapped[str] = mapped_column(String(100))


class Building(Base):
    __tablename__ = "buildings"
    __table_args__ = (UniqueConstraint("compound_id", "name"),)

    id: Mapped[int] = mapped_column(primary_key=True)
    grid_id: Mapped[int] = mapped_column(ForeignKey("grids.id"), index=True)
    compound_id: Mapped[int] = mapped_column(ForeignKey("compounds.id"), index=True)
    name: Mapped[str] = mapped_column(String(100))
    # Short code for the building's registration deep link (/start b_<code>).
    code: Mapped[str] = mapped_column(String(32), unique=True)
    units: Mapped[int] = mapped_column(Integer, default=1)
    # Issue 17 (models/places.py): the distribution point or checkpoint serving it, and its
    # status now (a key of [building_status]; None: none set) with the time it took effect.
    place_id: Mapped[int | None] = mapped_column(ForeignKey("places.id"), index=True)
    status: Mapped[str | None] = mapped_column(String(32))
    status_since: Mapped[datetime | None] = mapped_column(UTCDateTime())

    grid: Mapped[Grid] = relationship(back_populates="buildings")
    compound: Mapped[Compound] = relationship()


class UserPref(Base):
    """Per-person preferences, whatever their role (and before they have one)."""

    __tablename__ = "user_prefs"

    telegram_id: Mapped[int] = mapped_column(BigInteger, primary_key=True, autoincrement=False)
    language: Mapped[str | None] = mapped_column(String(8))
    updated_at: Mapped[datetime] = mapped_column(UTCDateTime())


class Resident(Base):
    __tablename__ = "residents"

    id: Mapped[int] = mapped_column(primary_key=True)
    # None: a household registered by staff for orders taken by phone (电话点单), which has no
    # Telegram (yet: starting the bot with the same phone links it).
    telegram_id: Mapped[int | None] = mapped_column(BigInteger, unique=True)
    name: Mapped[str] = mapped_column(String(64))
    phone: Mapped[str] = mapped_column(String(32))
    building_id: Mapped[int] = mapped_column(ForeignKey("buildings.id"), index=True)
    unit: Mapped[str] = mapped_column(String(16))
    room: Mapped[str] = mapped_column(String(16))
    # Care (包保): when the household told us, with consent, of a member who needs care (its
    # flags are rows of care_flags set by itself); None once it has taken them all back.
    care_consent_at: Mapped[datetime | None] = mapped_column(UTCDateTime())
    # The care list as staff keep it (包保): who is responsible, and a home-isolation period.
    # Staff only.
    responsible_telegram_id: Mapped[int | None] = mapped_column(BigInteger)
    isolation_until: Mapped[date | None] = mapped_column(Date)
    created_at: Mapped[datetime] = mapped_column(UTCDateTime())
    updated_at: Mapped[datetime] = mapped_column(UTCDateTime())
    # Set by `paotui resident forget`: the row only anchors the anonymised orders of the
    # ledger (no name, phone or room; a telegram_id no real user has). Never messaged.
    forgotten_at: Mapped[datetime | None] = mapped_column(UTCDateTime())

    building: Mapped[Building] = relationship()


class Recipient(Base):
    """Someone a resident orders for (a parent without a phone, a neighbour in the building)."""

    __tablename__ = "recipients"

    id: Mapped[int] = mapped_column(primary_key=True)
    owner_id: Mapped[int] = mapped_column(ForeignKey("residents.id"), index=True)
    name: Mapped[str] = mapped_column(String(64))
    phone: Mapped[str] = mapped_column(String(32))
    building_id: Mapped[int] = mapped_column(ForeignKey("buildings.id"))
    unit: Mapped[str] = mapped_column(String(16))
    room: Mapped[str] = mapped_column(String(16))
    removed: Mapped[bool] = mapped_column(Boolean, default=False)
    created_at: Mapped[datetime] = mapped_column(UTCDateTime())

    building: Mapped[Building] = relationship()


class Volunteer(Base):
    __tablename__ = "volunteers"

    id: Mapped[int] = mapped_column(primary_key=True)
    telegram_id: Mapped[int] = mapped_column(BigInteger, unique=True)
    name: Mapped[str] = mapped_column(String(64))
    phone: Mapped[str | None] = mapped_column(String(32))
    grid_id: Mapped[int] = mapped_column(ForeignKey("grids.id"), index=True)
    status: Mapped[VolunteerStatus] = mapped_column(String(16), default=VolunteerStatus.PENDING)
    availability: Mapped[str | None] = mapped_column(String(16))  # day | night | both
    # Checked in for duty now (until they check out): new tasks are also sent to them privately.
    on_duty_since: Mapped[datetime | None] = mapped_column(UTCDateTime())
    decided_by: Mapped[int | None] = mapped_column(BigInteger)  # who approved or rejected
    decided_at: Mapped[datetime | None] = mapped_column(UTCDateTime())
    # Suspension (status "suspended"): who took them off, when and why (staff only; the
    # volunteer is not told the reason). Cleared when they are reinstated.
    suspended_at: Mapped[datetime | None] = mapped_column(UTCDateTime())
    suspended_by: Mapped[int | None] = mapped_column(BigInteger)  # None: the command line
    suspended_reason: Mapped[str | None] = mapped_column(Text)
    # A picture of their payment QR code (a Telegram file id), shown privately to the
    # residents of the orders they deliver with an amount; never to a group.
    pay_qr: Mapped[str | None] = mapped_column(String(256))
    # Staff allowed them to take orders by phone for households of their grid (📞 代下单).
    can_take_phone_orders: Mapped[bool] = mapped_column(Boolean, default=False, server_default="0")
    created_at: Mapped[datetime] = mapped_column(UTCDateTime())

    grid: Mapped[Grid] = relationship()


class Staff(Base):
    __tablename__ = "staff"
    __table_args__ = (UniqueConstraint("telegram_id", "role", "community_id", "grid_id"),)

    id: Mapped[int] = mapped_column(primary_key=True)
    telegram_id: Mapped[int] = mapped_column(BigInteger, index=True)
    name: Mapped[str] = mapped_column(String(64))
    role: Mapped[StaffRole] = mapped_column(String(16))
    # Scope: an admin has neither, community staff a community, a grid leader a grid.
    community_id: Mapped[int | None] = mapped_column(ForeignKey("communities.id"))
    grid_id: Mapped[int | None] = mapped_column(ForeignKey("grids.id"))
    created_at: Mapped[datetime] = mapped_column(UTCDateTime())


class Order(Base):
    __tablename__ = "orders"
    __table_args__ = (
        Index("ix_orders_status_grid", "status", "grid_id"),
        # /stats and the ledger: the orders created in some days (a range, not every order).
        Index("ix_orders_created_at", "created_at"),
        # /stats: its counts and medians of some days read from the index alone.
        Index(
            "ix_orders_created_counted",
            "created_at",
            "grid_id",
            "status",
            "category",
            "claimed_at",
            "delivered_at",
        ),
    )

    id: Mapped[int] = mapped_column(primary_key=True)
    resident_id: Mapped[int] = mapped_column(ForeignKey("residents.id"), index=True)
    # Where it goes, copied at creation so a later address change does not move a running order.
    community_id: Mapped[int] = mapped_column(ForeignKey("communities.id"), index=True)
    grid_id: Mapped[int] = mapped_column(ForeignKey("grids.id"))
    building_id: Mapped[int] = mapped_column(ForeignKey("buildings.id"))
    unit: Mapped[str] = mapped_column(String(16))
    room: Mapped[str] = mapped_column(String(16))
    contact_name: Mapped[str] = mapped_column(String(64))
    contact_phone: Mapped[str] = mapped_column(String(32))
    category: Mapped[str] = mapped_column(String(16))
    description: Mapped[str] = mapped_column(Text)
    urgency: Mapped[Urgency] = mapped_column(String(16), default=Urgency.NORMAL)
    # Kind-specific answers (budget, substitutes, pharmacy, gas card, ...), as entered.
    details: Mapped[dict[str, Any]] = mapped_column(JSON, default=dict)
    photo: Mapped[str | None] = mapped_column(String(256))  # a list, a box, a prescription
    voice: Mapped[str | None] = mapped_column(String(256))  # a spoken description
    time_window: Mapped[str | None] = mapped_column(String(16))
    payment: Mapped[str | None] = mapped_column(String(16))
    doorstep: Mapped[bool] = mapped_column(Boolean, default=True)  # knock and leave (敲门不见面)
    priority: Mapped[bool] = mapped_column(Boolean, default=False)
    recipient_id: Mapped[int | None] = mapped_column(ForeignKey("recipients.id"))
    rating: Mapped[int | None] = mapped_column(Integer)
    thanks: Mapped[str | None] = mapped_column(Text)
    status: Mapped[OrderStatus] = mapped_column(String(16), default=OrderStatus.OPEN)
    volunteer_id: Mapped[int | None] = mapped_column(ForeignKey("volunteers.id"), index=True)
    # The group post announcing the task: the outbox row that sent it, so it can be edited.
    group_post_id: Mapped[int | None] = mapped_column(ForeignKey("outbox.id"))
    # The claimer's private task card, edited as the task moves.
    runner_card_id: Mapped[int | None] = mapped_column(ForeignKey("outbox.id"))
    # The resident's live card of the order (issue 15), edited at each change.
    resident_card_id: Mapped[int | None] = mapped_column(ForeignKey("outbox.id"))
    reason: Mapped[str | None] = mapped_column(Text)
    # Escalation (DESIGN rule 3): the next step of the ladder for the present status, and when
    # it is due. Reset by every status change; advanced by the sweep with a conditional UPDATE.
    escalation_step: Mapped[int] = mapped_column(Integer, default=0)
    escalate_at: Mapped[datetime | None] = mapped_column(UTCDateTime(), index=True)
    # Once set, volunteers of every grid of the community may claim it.
    community_wide_at: Mapped[datetime | None] = mapped_column(UTCDateTime())
    # 催一催: the resident's last reminder that they are waiting (rate-limited by a conditional
    # UPDATE on it) and how many there were; staff views show an urged order.
    urged_at: Mapped[datetime | None] = mapped_column(UTCDateTime())
    urge_count: Mapped[int] = mapped_column(Integer, default=0, server_default="0")
    # Proof of delivery: a photo at the door, what was spent and the receipt.
    doorstep_photo: Mapped[str | None] = mapped_column(String(256))
    # In fen (分): integers, so SQLite and PostgreSQL agree to the cent.
    amount_spent_fen: Mapped[int | None] = mapped_column(Integer)
    receipt_photo: Mapped[str | None] = mapped_column(String(256))
    # Payment of what was spent: the resident says it is paid, the runner that it was received
    # (either may come first: cash at the door needs only the runner's word).
    paid_at: Mapped[datetime | None] = mapped_column(UTCDateTime())
    paid_by: Mapped[int | None] = mapped_column(BigInteger)
    paid_confirmed_at: Mapped[datetime | None] = mapped_column(UTCDateTime())
    paid_confirmed_by: Mapped[int | None] = mapped_column(BigInteger)
    # The one reminder to pay, `[delivery] unpaid_remind_hours` after delivery (claimed by a
    # conditional UPDATE on it, so several sweeps send it once).
    pay_reminded_at: Mapped[datetime | None] = mapped_column(UTCDateTime())
    # How it came: "bot" (the resident's own chat) or "phone" (entered by `entered_by`, a
    # staff member or an allowed volunteer, for a household that called).
    channel: Mapped[str] = mapped_column(String(8), default="bot", server_default="bot")
    entered_by: Mapped[int | None] = mapped_column(BigInteger)
    # An occurrence of a repeating errand (issue 16; no foreign key: the template may go), and
    # whether it was created late (the bot was down at its time).
    repeat_id: Mapped[int | None] = mapped_column(Integer, index=True)
    repeat_late: Mapped[bool] = mapped_column(Boolean, default=False, server_default="0")
    # Left at this distribution point or checkpoint instead of the door: the building's status
    # said "pickup" when the order was made (models/places.py).
    place_id: Mapped[int | None] = mapped_column(ForeignKey("places.id"))
    created_at: Mapped[datetime] = mapped_column(UTCDateTime())
    updated_at: Mapped[datetime] = mapped_column(UTCDateTime())
    claimed_at: Mapped[datetime | None] = mapped_column(UTCDateTime())
    delivered_at: Mapped[datetime | None] = mapped_column(UTCDateTime())
    closed_at: Mapped[datetime | None] = mapped_column(UTCDateTime())

    resident: Mapped[Resident] = relationship()
    volunteer: Mapped[Volunteer | None] = relationship()
    building: Mapped[Building] = relationship()
    grid: Mapped[Grid] = relationship()
    place: Mapped[Place | None] = relationship()


class OrderPost(Base):
    """Further group posts of a task (in neighbouring grids once it escalates), edited with the
    home post when it is taken or closed."""

    __tablename__ = "order_posts"

    id: Mapped[int] = mapped_column(primary_key=True)
    order_id: Mapped[int] = mapped_column(ForeignKey("orders.id"), index=True)
    outbox_id: Mapped[int] = mapped_column(ForeignKey("outbox.id"))


class OrderEvent(Base):
    """One audit row per change of an order: who, from, to, when, note."""

    __tablename__ = "order_events"
    # /stats and the ledger: the events of some days (a range scan, not the whole history).
    __table_args__ = (
        Index("ix_order_events_at", "at"),
        # /stats: the claims and deliveries of some days, and by whom, from the index alone.
        Index("ix_order_events_status_at", "to_status", "at", "actor_telegram_id", "order_id"),
    )

    id: Mapped[int] = mapped_column(primary_key=True)
    order_id: Mapped[int] = mapped_column(ForeignKey("orders.id"), index=True)
    actor: Mapped[str] = mapped_column(String(16))
    actor_telegram_id: Mapped[int | None] = mapped_column(BigInteger)
    from_status: Mapped[str | None] = mapped_column(String(16))
    to_status: Mapped[str] = mapped_column(String(16))
    note: Mapped[str | None] = mapped_column(Text)
    at: Mapped[datetime] = mapped_column(UTCDateTime())


class OrderDraft(Base):
    """An order being composed in the chat. Confirming it is a conditional UPDATE of this row,
    which is what makes a redelivered "confirm" press create one order, not two."""

    __tablename__ = "order_drafts"

    id: Mapped[int] = mapped_column(primary_key=True)
    resident_id: Mapped[int] = mapped_column(ForeignKey("residents.id"), index=True)
    category: Mapped[str | None] = mapped_column(String(16))
    description: Mapped[str | None] = mapped_column(Text)
    urgency: Mapped[str | None] = mapped_column(String(16))
    details: Mapped[dict[str, Any]] = mapped_column(JSON, default=dict)
    photo: Mapped[str | None] = mapped_column(String(256))
    voice: Mapped[str | None] = mapped_column(String(256))
    time_window: Mapped[str | None] = mapped_column(String(16))
    payment: Mapped[str | None] = mapped_column(String(16))
    doorstep: Mapped[bool] = mapped_column(Boolean, default=True)
    recipient_id: Mapped[int | None] = mapped_column(ForeignKey("recipients.id"))
    order_id: Mapped[int | None] = mapped_column(ForeignKey("orders.id"), unique=True)
    # A phone order's form: who fills it in for the household (else the resident themselves).
    entered_by: Mapped[int | None] = mapped_column(BigInteger)
    submitted_at: Mapped[datetime | None] = mapped_column(UTCDateTime())
    created_at: Mapped[datetime] = mapped_column(UTCDateTime())
    updated_at: Mapped[datetime] = mapped_column(UTCDateTime())


class OrderMessage(Base):
    """The relay between a resident and their runner: no phone numbers exchanged."""

    __tablename__ = "order_messages"

    id: Mapped[int] = mapped_column(primary_key=True)
    order_id: Mapped[int] = mapped_column(ForeignKey("orders.id"), index=True)
    sender_role: Mapped[str] = mapped_column(String(16))  # resident | volunteer
    sender_telegram_id: Mapped[int] = mapped_column(BigInteger)
    text: Mapped[str | None] = mapped_column(Text)
    photo: Mapped[str | None] = mapped_column(String(256))
    at: Mapped[datetime] = mapped_column(UTCDateTime())
    # Written to an order nobody has taken yet: kept for the runner, passed on at the claim.
    held: Mapped[bool] = mapped_column(Boolean, default=False, server_default="0")


class ResidentInput(Base):
    """What a resident typed or sent outside any conversation while an order was under way:
    kept until they say what to do with it (send it to the volunteer, or not), so nothing
    typed is lost."""

    __tablename__ = "resident_inputs"

    id: Mapped[int] = mapped_column(primary_key=True)
    telegram_id: Mapped[int] = mapped_column(BigInteger, index=True)
    text: Mapped[str | None] = mapped_column(Text)
    photo: Mapped[str | None] = mapped_column(String(256))
    at: Mapped[datetime] = mapped_column(UTCDateTime())
    # Once decided: the order it went to, and what became of it (relayed | held | declined).
    order_id: Mapped[int | None] = mapped_column(ForeignKey("orders.id"))
    outcome: Mapped[str | None] = mapped_column(String(16))
    # The relayed (or held) message it became.
    message_id: Mapped[int | None] = mapped_column(ForeignKey("order_messages.id"))


class OrderProblem(Base):
    """A resident's report (missing or wrong item...) that reaches staff."""

    __tablename__ = "order_problems"

    id: Mapped[int] = mapped_column(primary_key=True)
    order_id: Mapped[int] = mapped_column(ForeignKey("orders.id"), index=True)
    kind: Mapped[str] = mapped_column(String(16))
    text: Mapped[str | None] = mapped_column(Text)
    reporter_telegram_id: Mapped[int] = mapped_column(BigInteger)
    at: Mapped[datetime] = mapped_column(UTCDateTime())
    resolved_at: Mapped[datetime | None] = mapped_column(UTCDateTime())


class Notice(Base):
    """A notice staff sent (or scheduled); its messages go through the outbox, one
    NoticeDelivery per recipient chat."""

    __tablename__ = "notices"

    id: Mapped[int] = mapped_column(primary_key=True)
    # None for a notice to everyone (admins only).
    community_id: Mapped[int | None] = mapped_column(ForeignKey("communities.id"), index=True)
    grid_id: Mapped[int | None] = mapped_column(ForeignKey("grids.id"))
    # community | grid | building | care | volunteers | everyone, and the id it refers to.
    audience: Mapped[str] = mapped_column(String(16), default="grid", server_default="grid")
    audience_id: Mapped[int | None] = mapped_column(Integer)
    author_telegram_id: Mapped[int] = mapped_column(BigInteger)
    text: Mapped[str] = mapped_column(Text)
    file_id: Mapped[str | None] = mapped_column(String(256))  # a photo or a PDF
    media: Mapped[str | None] = mapped_column(String(16))  # photo | document
    pin: Mapped[bool] = mapped_column(Boolean, default=False, server_default="0")
    # Timers are data: a scheduled notice waits for the sweep; `sent_at` is set, once, when its
    # messages are written to the outbox.
    send_at: Mapped[datetime | None] = mapped_column(UTCDateTime(), index=True)
    sent_at: Mapped[datetime | None] = mapped_column(UTCDateTime())
    cancelled_at: Mapped[datetime | None] = mapped_column(UTCDateTime())
    recipients: Mapped[int] = mapped_column(Integer, default=0)
    created_at: Mapped[datetime] = mapped_column(UTCDateTime())
    # A group-buy's announcement (issue 17): its copies carry a 🛒 button besides ✅.
    groupbuy_id: Mapped[int | None] = mapped_column(Integer)


class NoticeDelivery(Base):
    """One recipient of a notice: which outbox row carries it and whether they confirmed."""

    __tablename__ = "notice_deliveries"
    __table_args__ = (UniqueConstraint("notice_id", "chat_id"),)

    id: Mapped[int] = mapped_column(primary_key=True)
    notice_id: Mapped[int] = mapped_column(ForeignKey("notices.id"), index=True)
    chat_id: Mapped[int] = mapped_column(BigInteger)
    resident_id: Mapped[int | None] = mapped_column(ForeignKey("residents.id"))
    building_id: Mapped[int | None] = mapped_column(ForeignKey("buildings.id"))
    outbox_id: Mapped[int | None] = mapped_column(ForeignKey("outbox.id"))
    resent: Mapped[int] = mapped_column(Integer, default=0)
    confirmed_at: Mapped[datetime | None] = mapped_column(UTCDateTime())


class DailyRun(Base):
    """Something done once a day (the staff summary, the care check-in round): the unique key
    makes it once, across sweeps and restarts."""

    __tablename__ = "daily_runs"
    __table_args__ = (UniqueConstraint("kind", "day", "scope"),)

    id: Mapped[int] = mapped_column(primary_key=True)
    kind: Mapped[str] = mapped_column(String(32))
    day: Mapped[date] = mapped_column(Date)
    scope: Mapped[str] = mapped_column(String(32), default="", server_default="")
    at: Mapped[datetime] = mapped_column(UTCDateTime())


class AuditEntry(Base):
    """Who did what to what, written in the same transaction as the action (staff, approvals,
    notices, group bindings, roster changes). A CLI action has no actor."""

    __tablename__ = "audit_log"

    id: Mapped[int] = mapped_column(primary_key=True)
    actor_telegram_id: Mapped[int | None] = mapped_column(BigInteger, index=True)
    action: Mapped[str] = mapped_column(String(32), index=True)
    target: Mapped[str] = mapped_column(Text)
    details: Mapped[dict[str, Any]] = mapped_column(JSON, default=dict)
    at: Mapped[datetime] = mapped_column(UTCDateTime(), index=True)
