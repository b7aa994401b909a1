"""A group-buy after its deadline: the sweep closes it (once: a conditional UPDATE on its
status, in the same transaction as the summary it owes staff); staff confirm it (✅, once),
which sends the merchant's contact the consolidated order; the merchant marks it delivered to
the distribution point with a photo (once), which staff are told of with the photo.

What goes where (privacy): staff and the merchant's message hold totals per item and
households per building; lines per door are only in the merchant's XLSX (`workbook`), handed
to the merchant's own press in their private chat."""

from __future__ import annotations

from dataclasses import dataclass

from sqlalchemy import func, select, update
from sqlalchemy.ext.asyncio import AsyncSession

from bot import outbox
from bot.db import affected_rows
from bot.errors import Refused, stale
from bot.i18n import N_, Gettext
from bot.runtime import Runtime
from bot.services import audit
from bot.services.groupbuys import buys, doors, kept, packing, texts
from bot.services.groupbuys.buys import head
from bot.services.reports.files import workbook_bytes
from bot.services.reports.sheets.sheet import Sheet, yuan
from bot.services.scope import require_staff
from models import (
    Building,
    Compound,
    GroupBuy,
    GroupBuyItem,
    GroupBuyLine,
    Merchant,
    Resident,
    Staff,
    StaffRole,
)

NOT_THE_MERCHANT = N_("This is for the merchant's contact person only.")
ALREADY_CONFIRMED = N_("Already ordered from the merchant.")
NOT_CLOSED = N_("This group-buy is still collecting; it can be confirmed after its deadline.")
CHECK_HINT = N_("/gbcheck {id}: doors, receipts, problems and payments.")
NOT_CONFIRMED = N_("This order is not waiting for delivery (any more).")


@dataclass(frozen=True)
class Order:
    head: texts.Head
    totals: list[texts.Item]
    households: int
    buildings: list[tuple[str, int]]


async def order(session: AsyncSession, gb: GroupBuy) -> Order:
    """The group-buy's totals per item, households, and households per building."""
    li = GroupBuyLine.__table__.c
    totals = [
        texts.Item(i.id, i.name, i.unit, i.price_fen, i.per_household, int(q or 0))
        for i, q in (
            await session.execute(
                select(GroupBuyItem, func.sum(li.quantity))
                .outerjoin(GroupBuyLine, GroupBuyLine.item_id == GroupBuyItem.id)
                .where(GroupBuyItem.groupbuy_id == gb.id)
                .group_by(GroupBuyItem.id)
                .order_by(GroupBuyItem.position)
            )
        ).all()
    ]
    taking = (
        select(GroupBuyLine.resident_id)
        .where(GroupBuyLine.groupbuy_id == gb.id, GroupBuyLine.quantity > 0)
        .distinct()
        .subquery()
    )
    per_building = (
        await session.execute(
            select(Building, func.count())
            .join(Resident, Resident.building_id == Building.id)
            .join(taking, taking.c.resident_id == Resident.id)
            .group_by(Building.id)
            .order_by(Building.id)
        )
    ).all()
    buildings = [(await _label(session, b), int(n)) for b, n in per_building]
    return Order(await head(session, gb), totals, sum(n for _, n in buildings), buildings)


async def _label(session: AsyncSession, b: Building) -> str:
    """ "幸福小区 1栋", as notices name a building."""
    compound = await session.get(Compound, b.compound_id)
    return f"{compound.name} {b.name}" if compound and compound.name else b.name


async def _staff_of(session: AsyncSession, gb: GroupBuy) -> list[int]:
    """Who hears of a group-buy: its opener and the staff of its community."""
    rows = await session.scalars(
        select(Staff.telegram_id).where(
            Staff.role == StaffRole.COMMUNITY, Staff.community_id == gb.community_id
        )
    )
    return sorted({gb.created_by, *rows})


async def close(rt: Runtime, session: AsyncSession, groupbuy_id: int) -> bool:
    """Close a group-buy past its deadline (once) and owe staff its summary."""
    now = rt.clock.now()
    res = await affected_rows(
        session,
        update(GroupBuy)
        .where(GroupBuy.id == groupbuy_id, GroupBuy.status == "open", GroupBuy.deadline_at <= now)
        .values(status="closed", closed_at=now),
    )
    if res != 1:
        return False
    gb = await session.get(GroupBuy, groupbuy_id, populate_existing=True)
    assert gb is not None
    # The households' doors, so that payments (online in advance) can be recorded from now on.
    await packing.make_runs(session, gb)
    if gb.payment == doors.ONLINE:  # each household is told what it owes, with 💰
        await doors.tell_to_pay(rt, session, gb.id)
    # Each household's card it was shown: closed, what it took (or that it took no part).
    await kept.close_cards(rt, session, gb)
    await kept.close_announcements(rt, session, gb)
    o = await order(session, gb)
    await kept.send(
        rt,
        session,
        await _staff_of(session, gb),
        gb.id,
        kept.SUMMARY,
        lambda _: texts.summary(_, o.head, o.totals, o.households, o.buildings, rt.timezone),
    )
    return True


async def _keep_true(rt: Runtime, session: AsyncSession, gb: GroupBuy, o: Order) -> None:
    """Staff's summaries and the merchant's order edited to where the group-buy stands now
    (the pressed copy too: the same text is no change to Telegram)."""
    await kept.edit_all(
        rt,
        session,
        gb.id,
        kept.SUMMARY,
        lambda _: texts.summary(_, o.head, o.totals, o.households, o.buildings, rt.timezone),
    )
    await kept.edit_all(
        rt,
        session,
        gb.id,
        kept.MERCHANT,
        lambda _: texts.merchant_order(_, o.head, o.totals, o.households, o.buildings, rt.timezone),
    )


async def close_due(rt: Runtime) -> int:
    """The sweep's part: each open group-buy past its deadline closed, once."""
    now = rt.clock.now()
    async with rt.db.read() as s:
        due = (
            await s.scalars(
                select(GroupBuy.id).where(GroupBuy.status == "open", GroupBuy.deadline_at <= now)
            )
        ).all()
    fired = 0
    for groupbuy_id in due:
        async with rt.db.session() as s:
            fired += await close(rt, s, groupbuy_id)
    return fired


async def _covered(session: AsyncSession, telegram_id: int, groupbuy_id: int) -> GroupBuy:
    scope = await require_staff(session, telegram_id)
    gb = await session.get(GroupBuy, groupbuy_id)
    if gb is None or not scope.covers(gb.community_id):
        if gb is not None and gb.created_by == telegram_id:
            return gb
        raise stale()
    return gb


async def summary_of(session: AsyncSession, telegram_id: int, groupbuy_id: int) -> Order:
    return await order(session, await _covered(session, telegram_id, groupbuy_id))


async def confirm(rt: Runtime, session: AsyncSession, telegram_id: int, groupbuy_id: int) -> Order:
    """✅ by staff: ordered from the merchant (once); the merchant's contact gets the order."""
    gb = await _covered(session, telegram_id, groupbuy_id)
    now = rt.clock.now()
    res = await affected_rows(
        session,
        update(GroupBuy)
        .where(GroupBuy.id == gb.id, GroupBuy.status == "closed")
        .values(status="confirmed", confirmed_at=now, confirmed_by=telegram_id),
    )
    if res != 1:
        await session.refresh(gb)
        raise Refused(NOT_CLOSED if gb.status == "open" else ALREADY_CONFIRMED)
    await session.refresh(gb)
    o = await order(session, gb)
    merchant = await session.get(Merchant, gb.merchant_id)
    assert merchant is not None
    await audit.record(
        session, rt.clock, telegram_id, "groupbuy.confirmed", merchant.name, groupbuy=gb.id
    )
    # Every staff member's summary loses ✅ and says it is ordered.
    await _keep_true(rt, session, gb, o)
    await kept.send(
        rt,
        session,
        [merchant.contact_telegram_id],
        gb.id,
        kept.MERCHANT,
        lambda _: texts.merchant_order(_, o.head, o.totals, o.households, o.buildings, rt.timezone),
    )
    return o


async def _merchants_own(session: AsyncSession, telegram_id: int, groupbuy_id: int) -> GroupBuy:
    gb = await session.get(GroupBuy, groupbuy_id)
    merchant = None if gb is None else await session.get(Merchant, gb.merchant_id)
    if gb is None or merchant is None or merchant.contact_telegram_id != telegram_id:
        raise Refused(NOT_THE_MERCHANT)
    if gb.status not in ("confirmed", "delivered"):
        raise Refused(NOT_THE_MERCHANT)
    return gb


async def merchant_view(session: AsyncSession, telegram_id: int, groupbuy_id: int) -> Order:
    return await order(session, await _merchants_own(session, telegram_id, groupbuy_id))


async def merchant_orders(session: AsyncSession, telegram_id: int) -> list[Order] | None:
    """The merchant view: the orders (confirmed or delivered) of the merchants this person is
    the contact of, newest first; None for someone who is no merchant's contact."""
    ids = (
        await session.scalars(
            select(Merchant.id).where(Merchant.contact_telegram_id == telegram_id)
        )
    ).all()
    if not ids:
        return None
    gbs = (
        await session.scalars(
            select(GroupBuy)
            .where(GroupBuy.merchant_id.in_(ids), GroupBuy.status.in_(("confirmed", "delivered")))
            .order_by(GroupBuy.id.desc())
            .limit(10)
        )
    ).all()
    return [await order(session, gb) for gb in gbs]


async def check_deliverable(session: AsyncSession, telegram_id: int, groupbuy_id: int) -> None:
    """📦 pressed: the merchant's, and waiting for delivery (else Refused)."""
    gb = await _merchants_own(session, telegram_id, groupbuy_id)
    if gb.status != "confirmed":
        raise Refused(NOT_CONFIRMED)


async def delivered(
    rt: Runtime, session: AsyncSession, telegram_id: int, groupbuy_id: int, photo: str
) -> Order:
    """The merchant's photo: delivered to the distribution point (once); staff are told."""
    gb = await _merchants_own(session, telegram_id, groupbuy_id)
    now = rt.clock.now()
    res = await affected_rows(
        session,
        update(GroupBuy)
        .where(GroupBuy.id == gb.id, GroupBuy.status == "confirmed")
        .values(status="delivered", delivered_at=now, delivered_photo=photo),
    )
    if res != 1:
        raise Refused(NOT_CONFIRMED)
    await session.refresh(gb)
    o = await order(session, gb)
    merchant = await session.get(Merchant, gb.merchant_id)
    assert merchant is not None
    await audit.record(
        session, rt.clock, telegram_id, "groupbuy.delivered", merchant.name, groupbuy=gb.id
    )
    # Split by building: each grid's group is asked for a volunteer per building.
    await packing.post_runs(rt, session, gb)
    # The summaries and the merchant's order say delivered (where, when), 📦 gone.
    await _keep_true(rt, session, gb, o)
    point = await buys.points_of(session, gb.id)
    for tid in await _staff_of(session, gb):
        _ = await _gettext(rt, session, tid)
        outbox.enqueue(
            session,
            rt.clock,
            chat_id=tid,
            text=_("📦 Group-buy #{id} ({merchant}) was delivered to {point}.").format(
                id=gb.id, merchant=merchant.name, point=point or _(texts.POINT)
            )
            + "\n"
            + _(CHECK_HINT).format(id=gb.id),
            photo=photo,
        )
    return o


async def _gettext(rt: Runtime, session: AsyncSession, telegram_id: int) -> Gettext:
    from bot.services.messages import gettext_of

    return await gettext_of(rt, session, telegram_id)


ITEM_COLUMNS = (N_("Item"), N_("Unit"), N_("Price (¥)"), N_("Quantity"), N_("Amount (¥)"))
BUILDING_COLUMNS = (N_("Building"), *ITEM_COLUMNS[:1], *ITEM_COLUMNS[3:])
DOOR_COLUMNS = (N_("Building"), N_("Door"), *ITEM_COLUMNS[:1], *ITEM_COLUMNS[3:])


async def workbook(
    session: AsyncSession, telegram_id: int, groupbuy_id: int, _: Gettext
) -> tuple[str, bytes]:
    """The merchant's XLSX: totals per item, lines per building, lines per door (unit-room:
    no name, no phone). (file name, bytes)"""
    gb = await _merchants_own(session, telegram_id, groupbuy_id)
    o = await order(session, gb)
    rows = (
        await session.execute(
            select(Building, Resident.unit, Resident.room, GroupBuyItem, GroupBuyLine.quantity)
            .join(GroupBuyItem, GroupBuyItem.id == GroupBuyLine.item_id)
            .join(Resident, Resident.id == GroupBuyLine.resident_id)
            .join(Building, Building.id == Resident.building_id)
            .where(GroupBuyLine.groupbuy_id == gb.id, GroupBuyLine.quantity > 0)
            .order_by(Building.id, Resident.unit, Resident.room, GroupBuyItem.position)
        )
    ).all()
    names: dict[int, str] = {}
    for b, *_rest in rows:
        if b.id not in names:
            names[b.id] = await _label(session, b)
    doors = [
        (names[b.id], f"{unit}-{room}", i.name, q, yuan(q * i.price_fen))
        for b, unit, room, i, q in rows
    ]
    by_building: dict[tuple[str, str], list[int]] = {}
    prices: dict[str, int] = {}
    for b, _unit, _room, i, q in rows:
        by_building.setdefault((names[b.id], i.name), []).append(q)
        prices[i.name] = i.price_fen
    buildings = [
        (b, item, sum(qs), yuan(sum(qs) * prices[item])) for (b, item), qs in by_building.items()
    ]
    total = sum(i.quantity * i.price_fen for i in o.totals)
    items = [
        (i.name, i.unit, yuan(i.price_fen), i.quantity, yuan(i.quantity * i.price_fen))
        for i in o.totals
    ]
    sheets = [
        Sheet(
            _("Totals"),
            tuple(_(c) for c in ITEM_COLUMNS),
            list(items),
            frozenset({2, 4}),
            (_("Total"), None, None, sum(i.quantity for i in o.totals), yuan(total)),
        ),
        Sheet(
            _("By building"), tuple(_(c) for c in BUILDING_COLUMNS), list(buildings), frozenset({3})
        ),
        Sheet(_("By door"), tuple(_(c) for c in DOOR_COLUMNS), list(doors), frozenset({4})),
    ]
    return f"groupbuy-{gb.id}.xlsx", workbook_bytes(sheets)
