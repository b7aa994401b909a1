"""Orders as they are read: `OrderView` (the plain, session-free picture of one order that every
text and every handler works from), loading an order fresh from the database, loading it for
the one person who may act on it (its resident, its runner), and the lists people ask for
(my orders, my tasks, what I ran).
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import datetime
from typing import Any

from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession
from sqlalchemy.orm import selectinload

from bot.errors import Refused
from bot.i18n import N_
from bot.services.people import refuse_if_suspended
from models import Building, Grid, Order, OrderStatus, Resident, Volunteer

S = OrderStatus
# Not finished: counted against the household's cap.
ACTIVE = (S.OPEN, S.CLAIMED, S.PURCHASING, S.DELIVERING, S.DELIVERED)
# Held by a runner: counted against the volunteer's cap, and their load.
RUNNING = (S.CLAIMED, S.PURCHASING, S.DELIVERING)
FINISHED_BY_RUNNER = (S.DELIVERED, S.CONFIRMED, S.UNFULFILLABLE)
# What a view needs, loaded with the order.
LOAD = (
    selectinload(Order.building).selectinload(Building.compound),
    selectinload(Order.grid).selectinload(Grid.community),
    selectinload(Order.resident),
    selectinload(Order.volunteer),
    selectinload(Order.place),
)


@dataclass(frozen=True)
class OrderView:
    id: int
    category: str
    description: str
    urgency: str
    status: str
    compound: str
    building: str
    unit: str
    room: str
    community: str
    contact_name: str
    contact_phone: str
    # The chat the household's messages go to: its own, or, for a household without
    # Telegram, the person who took its order by phone (who calls it back).
    resident_telegram_id: int
    volunteer_name: str | None
    volunteer_telegram_id: int | None
    grid_id: int
    group_chat_id: int | None
    created_at: datetime
    updated_at: datetime
    reason: str | None
    details: dict[str, Any] = field(default_factory=dict)
    photo: str | None = None
    voice: str | None = None
    time_window: str | None = None
    payment: str | None = None
    doorstep: bool = True
    priority: bool = False
    for_someone_else: bool = False
    rating: int | None = None
    # Proof of delivery: the photo at the door, what was spent (fen) and the receipt.
    doorstep_photo: str | None = None
    amount_spent_fen: int | None = None
    receipt_photo: str | None = None
    # Payment of what was spent: the resident said it is paid; the runner received it.
    delivered_at: datetime | None = None
    paid_at: datetime | None = None
    paid_confirmed_at: datetime | None = None
    pay_reminded_at: datetime | None = None
    # Orders taken by phone (电话点单): who entered it; whether the household has Telegram.
    channel: str = "bot"
    entered_by: int | None = None
    household_on_telegram: bool = True

    @property
    def relayed(self) -> bool:
        """The household hears of it through the person who entered it, not in its own chat."""
        return not self.household_on_telegram and self.entered_by is not None

    # An occurrence of a repeating errand, and whether it was made late (the bot was down).
    repeat_id: int | None = None
    repeat_late: bool = False
    # Left at a distribution point or checkpoint instead of the door (the building's status
    # said "pickup" when it was ordered): its name, kind, location and pickup times.
    pickup_name: str | None = None
    pickup_kind: str = ""
    pickup_location: str | None = None
    pickup_times: str | None = None

    @property
    def volunteer_first_name(self) -> str:
        return (self.volunteer_name or "").split(" ")[0]


def view(o: Order) -> OrderView:
    """The order (loaded with LOAD) as a view."""
    return OrderView(
        id=o.id,
        category=o.category,
        description=o.description,
        urgency=o.urgency,
        status=o.status,
        compound=o.building.compound.name,
        building=o.building.name,
        unit=o.unit,
        room=o.room,
        community=o.grid.community.name,
        contact_name=o.contact_name,
        contact_phone=o.contact_phone,
        resident_telegram_id=(
            o.resident.telegram_id
            if o.resident.telegram_id is not None
            else (o.entered_by or 0)  # 0: no chat (never sent: see `messages.tell`)
        ),
        volunteer_name=o.volunteer.name if o.volunteer else None,
        volunteer_telegram_id=o.volunteer.telegram_id if o.volunteer else None,
        grid_id=o.grid_id,
        group_chat_id=o.grid.group_chat_id,
        created_at=o.created_at,
        updated_at=o.updated_at,
        reason=o.reason,
        details=dict(o.details or {}),
        photo=o.photo,
        voice=o.voice,
        time_window=o.time_window,
        payment=o.payment,
        doorstep=o.doorstep,
        priority=o.priority,
        for_someone_else=o.recipient_id is not None,
        rating=o.rating,
        doorstep_photo=o.doorstep_photo,
        amount_spent_fen=o.amount_spent_fen,
        receipt_photo=o.receipt_photo,
        delivered_at=o.delivered_at,
        paid_at=o.paid_at,
        paid_confirmed_at=o.paid_confirmed_at,
        pay_reminded_at=o.pay_reminded_at,
        channel=o.channel,
        entered_by=o.entered_by,
        household_on_telegram=o.resident.telegram_id is not None,
        repeat_id=o.repeat_id,
        repeat_late=o.repeat_late,
        pickup_name=o.place.name if o.place else None,
        pickup_kind=o.place.kind if o.place else "",
        pickup_location=o.place.location if o.place else None,
        pickup_times=o.place.pickup_times if o.place else None,
    )


async def load(session: AsyncSession, order_id: int) -> Order | None:
    """The order with what views need, fresh from the database."""
    return await session.scalar(
        select(Order)
        .where(Order.id == order_id)
        .options(*LOAD)
        .execution_options(populate_existing=True)
    )


async def get_view(session: AsyncSession, order_id: int) -> OrderView | None:
    o = await load(session, order_id)
    return view(o) if o else None


async def order_or_refuse(session: AsyncSession, order_id: int) -> Order:
    o = await load(session, order_id)
    if o is None:
        raise Refused(N_("This order does not exist."))
    return o


async def residents_order(session: AsyncSession, order_id: int, telegram_id: int) -> Order:
    """The order, if this person placed it."""
    o = await order_or_refuse(session, order_id)
    # A household without Telegram is acted for by whoever took its order by phone.
    proxy = o.resident.telegram_id is None and o.entered_by == telegram_id
    if o.resident.telegram_id != telegram_id and not proxy:
        raise Refused(N_("This is not your order."))
    return o


async def runners_order(session: AsyncSession, order_id: int, telegram_id: int) -> Order:
    """The order, if this person is running it (and has not been suspended)."""
    await refuse_if_suspended(session, telegram_id)
    o = await order_or_refuse(session, order_id)
    if o.volunteer is None or o.volunteer.telegram_id != telegram_id:
        raise Refused(N_("Only the volunteer running this task can do that."))
    return o


async def runner_view(session: AsyncSession, order_id: int, telegram_id: int) -> OrderView:
    """The task as its runner sees it, if this person is running it now."""
    return view(await runners_order(session, order_id, telegram_id))


async def orders_of_resident(
    session: AsyncSession, telegram_id: int, limit: int = 10
) -> list[OrderView]:
    rows = await session.scalars(
        select(Order)
        .join(Resident, Resident.id == Order.resident_id)
        .where(Resident.telegram_id == telegram_id)
        .order_by(Order.id.desc())
        .limit(limit)
        .options(*LOAD)
    )
    return [view(o) for o in rows]


async def _volunteer_orders(
    session: AsyncSession,
    telegram_id: int,
    statuses: tuple[OrderStatus, ...],
    *,
    newest_first: bool,
    limit: int,
) -> list[OrderView]:
    rows = await session.scalars(
        select(Order)
        .join(Volunteer, Volunteer.id == Order.volunteer_id)
        .where(Volunteer.telegram_id == telegram_id, Order.status.in_(statuses))
        .order_by(Order.id.desc() if newest_first else Order.id)
        .limit(limit)
        .options(*LOAD)
    )
    return [view(o) for o in rows]


async def tasks_of_volunteer(session: AsyncSession, telegram_id: int) -> list[OrderView]:
    """The tasks this volunteer is running, oldest first (a suspended volunteer is refused)."""
    await refuse_if_suspended(session, telegram_id)
    return await _volunteer_orders(session, telegram_id, RUNNING, newest_first=False, limit=50)


async def history_of_volunteer(
    session: AsyncSession, telegram_id: int, limit: int = 10
) -> list[OrderView]:
    """The tasks this volunteer finished, newest first."""
    return await _volunteer_orders(
        session, telegram_id, FINISHED_BY_RUNNER, newest_first=True, limit=limit
    )
