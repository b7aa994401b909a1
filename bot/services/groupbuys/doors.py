"""A group-buy at the household's door: the message a household gets when its door is marked
delivered (what it took, what it owes and how, ✅ 已收到, ⚠️ 少了/不对, 💰 已付款), the
household's receipt and payment (each recorded once: a conditional UPDATE on an empty column),
and the volunteer's or staff's cash mark.

A press on an older message acts on nothing: the refusal says how things stand, and the
handler shows the message as it is now. Privacy: the household's own message only; nothing
about a household goes to a group or a log line."""

from __future__ import annotations

import functools
from dataclasses import dataclass
from datetime import datetime

from sqlalchemy import select, update
from sqlalchemy.ext.asyncio import AsyncSession

from bot.buttons import Button, Rows
from bot.db import affected_rows
from bot.errors import Refused, stale
from bot.i18n import N_, Gettext, local_time
from bot.runtime import Runtime
from bot.services.amounts import yuan
from bot.services.messages import tell
from bot.services.reports.sheets.labels import (
    GROUPBUY_PAID_HOW,
    GROUPBUY_PAYMENT,
    GROUPBUY_PROBLEMS,
)
from bot.services.scope import scope_of
from models import (
    Building,
    Compound,
    GroupBuy,
    GroupBuyDoor,
    GroupBuyItem,
    GroupBuyLine,
    GroupBuyProblem,
    GroupBuyRun,
    Merchant,
    Resident,
)

ON_DELIVERY, ONLINE = "on_delivery", "online"
PAYMENT = GROUPBUY_PAYMENT
# paid_how: who recorded the payment.
CASH, STAFF, RESIDENT = "cash", "staff", "resident"
PAID_HOW = GROUPBUY_PAID_HOW
# What is wrong with an item (groupbuy_problems.kind): 少了 / 不对 / 坏了.
KINDS = GROUPBUY_PROBLEMS

AT_DOOR = N_("📦 Your group-buy #{id} ({merchant}) is at your door: {items}.")
FETCHED = N_("📦 You have fetched your group-buy #{id} ({merchant}): {items}.")
OWED = N_("Amount: ¥{amount} ({how}).")
RECEIVED_LINE = N_("✅ Received at {time}.")
PAID_LINE = N_("💰 Paid at {time} ({how}).")
PROBLEM_LINE = N_("⚠️ Reported: {item} {kind}.")
RECEIVED_BUTTON = N_("✅ Received")
PROBLEM_BUTTON = N_("⚠️ Missing or wrong")
PAID_BUTTON = N_("💰 I have paid")
ALREADY_RECEIVED = N_("Already confirmed as received. Thank you!")
ALREADY_PAID = N_("The payment is already recorded.")
NOT_AT_DOOR = N_("This has not been delivered to the door yet.")
CASH_BUTTON = N_("💵 {door} paid ¥{amount}")
PAY_AHEAD = N_(
    "Group-buy #{id} ({merchant}) has closed. You took: {items}. Please pay ¥{amount} online "
    "as your community asks, then press 💰 I have paid."
)


def received_data(door_id: int) -> str:
    return f"gb:rc:{door_id}"


def problem_data(door_id: int) -> str:
    return f"gb:pb:{door_id}"


def paid_data(door_id: int) -> str:
    return f"gb:py:{door_id}"


def ahead_data(door_id: int) -> str:
    return f"gb:pa:{door_id}"


def cash_data(door_id: int) -> str:
    return f"gb:pc:{door_id}"


@dataclass(frozen=True)
class Line:
    item_id: int
    name: str
    quantity: int
    price_fen: int


@dataclass(frozen=True)
class DoorView:
    id: int
    groupbuy_id: int
    community_id: int
    grid_id: int
    merchant: str
    merchant_contact: int
    payment: str
    resident_id: int
    resident_telegram_id: int | None
    building: str
    door: str  # unit-room
    lines: list[Line]
    volunteer_telegram_id: int | None
    delivered_at: datetime | None
    received_at: datetime | None
    paid_at: datetime | None
    paid_how: str | None
    problems: list[tuple[int, str]]  # item id, kind
    fetched: bool = False  # handed out at the point (its building's status: pickup)

    @property
    def amount_fen(self) -> int:
        return sum(li.quantity * li.price_fen for li in self.lines)

    @property
    def items(self) -> str:
        return ", ".join(f"{li.name} ×{li.quantity}" for li in self.lines)

    def item_name(self, item_id: int) -> str:
        return next((li.name for li in self.lines if li.item_id == item_id), "?")


async def building_label(session: AsyncSession, b: Building) -> str:
    compound = await session.get(Compound, b.compound_id)
    return f"{compound.name} {b.name}" if compound and compound.name else b.name


async def door_view(session: AsyncSession, door_id: int) -> DoorView:
    d = await session.get(GroupBuyDoor, door_id, populate_existing=True)
    if d is None:
        raise stale()
    r = await session.get(GroupBuyRun, d.run_id)
    assert r is not None
    gb = await session.get(GroupBuy, r.groupbuy_id)
    res = await session.get(Resident, d.resident_id)
    b = await session.get(Building, r.building_id)
    assert gb is not None and res is not None and b is not None
    merchant = await session.get(Merchant, gb.merchant_id)
    assert merchant is not None
    lines = [
        Line(i.id, i.name, q, i.price_fen)
        for i, q in (
            await session.execute(
                select(GroupBuyItem, GroupBuyLine.quantity)
                .join(GroupBuyLine, GroupBuyLine.item_id == GroupBuyItem.id)
                .where(GroupBuyLine.resident_id == d.resident_id, GroupBuyItem.groupbuy_id == gb.id)
                .where(GroupBuyLine.quantity > 0)
                .order_by(GroupBuyItem.position, GroupBuyItem.id)
            )
        ).all()
    ]
    problems = [
        (item_id, kind)
        for item_id, kind in (
            await session.execute(
                select(GroupBuyProblem.item_id, GroupBuyProblem.kind)
                .where(GroupBuyProblem.door_id == d.id)
                .order_by(GroupBuyProblem.id)
            )
        ).all()
    ]
    return DoorView(
        d.id,
        gb.id,
        gb.community_id,
        b.grid_id,
        merchant.name,
        merchant.contact_telegram_id,
        gb.payment,
        res.id,
        res.telegram_id if res.forgotten_at is None else None,
        await building_label(session, b),
        f"{res.unit}-{res.room}",
        lines,
        r.volunteer_telegram_id,
        d.delivered_at,
        d.received_at,
        d.paid_at,
        d.paid_how,
        problems,
        r.pickup_place_id is not None,
    )


def resident_message(_: Gettext, v: DoorView, tz: str) -> tuple[str, Rows]:
    """The household's message at its door, as things stand: what it took and owes, what it
    confirmed and reported; the buttons that still apply."""
    lines = [
        _(FETCHED if v.fetched else AT_DOOR).format(
            id=v.groupbuy_id, merchant=v.merchant, items=v.items
        ),
        _(OWED).format(amount=yuan(v.amount_fen), how=_(PAYMENT.get(v.payment, v.payment))),
    ]
    if v.received_at is not None:
        lines.append(_(RECEIVED_LINE).format(time=local_time(v.received_at, tz, "%m-%d %H:%M")))
    if v.paid_at is not None:
        how = _(PAID_HOW.get(v.paid_how or "", v.paid_how or ""))
        lines.append(_(PAID_LINE).format(time=local_time(v.paid_at, tz, "%m-%d %H:%M"), how=how))
    lines += [
        _(PROBLEM_LINE).format(item=v.item_name(item), kind=_(KINDS.get(kind, kind)))
        for item, kind in v.problems
    ]
    row: list[Button] = []
    if v.received_at is None:
        row.append(Button(_(RECEIVED_BUTTON), received_data(v.id)))
    if len(v.problems) < len(v.lines):
        row.append(Button(_(PROBLEM_BUTTON), problem_data(v.id)))
    rows: Rows = [row] if row else []
    if v.paid_at is None:
        rows.append([Button(_(PAID_BUTTON), paid_data(v.id))])
    return "\n".join(lines), rows


def pay_ahead_message(_: Gettext, v: DoorView, tz: str) -> tuple[str, Rows]:
    """At the close of a group-buy paid online: what the household owes; 💰 until paid."""
    lines = [
        _(PAY_AHEAD).format(
            id=v.groupbuy_id, merchant=v.merchant, items=v.items, amount=yuan(v.amount_fen)
        )
    ]
    if v.paid_at is not None:
        how = _(PAID_HOW.get(v.paid_how or "", v.paid_how or ""))
        lines.append(_(PAID_LINE).format(time=local_time(v.paid_at, tz, "%m-%d %H:%M"), how=how))
        return "\n".join(lines), []
    return "\n".join(lines), [[Button(_(PAID_BUTTON), ahead_data(v.id))]]


async def households_door(
    session: AsyncSession, telegram_id: int, door_id: int, *, delivered: bool = True
) -> DoorView:
    """The door, if it is this person's household's and (``delivered``) at its door (else
    the stale answer)."""
    v = await door_view(session, door_id)
    if v.resident_telegram_id != telegram_id:
        raise stale()
    if delivered and v.delivered_at is None:
        raise Refused(NOT_AT_DOOR)
    return v


async def tell_to_pay(rt: Runtime, session: AsyncSession, groupbuy_id: int) -> None:
    """At the close of a group-buy paid online: each household that took part is told what
    it owes, with 💰 已付款 (its door rows are made at the close)."""
    ids = await session.scalars(
        select(GroupBuyDoor.id)
        .join(GroupBuyRun, GroupBuyRun.id == GroupBuyDoor.run_id)
        .where(GroupBuyRun.groupbuy_id == groupbuy_id)
        .order_by(GroupBuyDoor.id)
    )
    for door_id in list(ids):
        v = await door_view(session, door_id)
        if v.resident_telegram_id:
            await tell(
                rt,
                session,
                v.resident_telegram_id,
                functools.partial(pay_ahead_message, v=v, tz=rt.timezone),
            )


async def received(rt: Runtime, session: AsyncSession, telegram_id: int, door_id: int) -> DoorView:
    """✅ 已收到: recorded once."""
    await households_door(session, telegram_id, door_id)
    res = await affected_rows(
        session,
        update(GroupBuyDoor)
        .where(GroupBuyDoor.id == door_id, GroupBuyDoor.received_at.is_(None))
        .values(received_at=rt.clock.now()),
    )
    if res != 1:
        raise Refused(ALREADY_RECEIVED)
    return await door_view(session, door_id)


async def _paid(
    rt: Runtime, session: AsyncSession, telegram_id: int, door_id: int, how: str
) -> DoorView:
    res = await affected_rows(
        session,
        update(GroupBuyDoor)
        .where(GroupBuyDoor.id == door_id, GroupBuyDoor.paid_at.is_(None))
        .values(paid_at=rt.clock.now(), paid_how=how, paid_by=telegram_id),
    )
    if res != 1:
        raise Refused(ALREADY_PAID)
    return await door_view(session, door_id)


async def resident_paid(
    rt: Runtime, session: AsyncSession, telegram_id: int, door_id: int, *, ahead: bool = False
) -> DoorView:
    """💰 已付款 by the household: recorded once (``ahead``: before delivery, on the message
    of a group-buy paid online)."""
    v = await households_door(session, telegram_id, door_id, delivered=not ahead)
    if ahead and v.payment != ONLINE:
        raise stale()
    return await _paid(rt, session, telegram_id, door_id, RESIDENT)


async def cash_paid(rt: Runtime, session: AsyncSession, telegram_id: int, door_id: int) -> DoorView:
    """💵 by the volunteer carrying the door's building (cash at the door), or by staff whose
    scope covers the household (either way once)."""
    v = await door_view(session, door_id)
    if v.volunteer_telegram_id == telegram_id:
        if v.delivered_at is None:
            raise Refused(NOT_AT_DOOR)
        return await _paid(rt, session, telegram_id, door_id, CASH)
    scope = await scope_of(session, telegram_id)
    if not scope.covers(v.community_id, v.grid_id):
        raise stale()
    return await _paid(rt, session, telegram_id, door_id, STAFF)
