"""A group-buy, resident side: staff open one (a merchant, items from its list with a limit
per household, a deadline, a delivery day, some buildings or whole compounds); it is announced
through the notice machinery (one notice per building: paced, with receipts, its copies
carrying 🛒); each household chooses quantities on one card, ＋/－, until the deadline.

Counting (DESIGN rules 2 and 14): each press is one conditional UPDATE of the household's line
(``quantity < limit`` / ``quantity > 0``) with the household's row locked, so two presses at
once never lose a count; the group-buy's row is read FOR SHARE, so the sweep's closing UPDATE
waits for a press under way and the order it reads counts it. A press after the deadline
changes nothing and shows the card as it stands."""

from __future__ import annotations

import re
from dataclasses import dataclass
from datetime import date, datetime

from sqlalchemy import and_, func, select, update
from sqlalchemy.ext.asyncio import AsyncSession

from bot.clock import local_day
from bot.db import affected_rows
from bot.errors import Refused, stale
from bot.i18n import N_, gettext_for
from bot.runtime import Runtime
from bot.services import audit, notices
from bot.services.groupbuys import merchants
from bot.services.groupbuys.doors import ON_DELIVERY, ONLINE, PAYMENT
from bot.services.groupbuys.texts import (
    AT_LIMIT,
    CLOSED_ALERT,
    NOT_FOR_YOU,
    Head,
    Item,
    announcement,
)
from bot.services.scope import require_staff
from models import (
    Building,
    Compound,
    Grid,
    GroupBuy,
    GroupBuyBuilding,
    GroupBuyItem,
    GroupBuyLine,
    Merchant,
    Notice,
    Place,
    Resident,
)

USAGE = N_(
    "Open a group-buy:\n"
    "/groupbuy MERCHANT BUILDINGS DEADLINE DELIVERY-DAY ITEM:LIMIT ...\n"
    "e.g. /groupbuy 爱心超市 xf1,xf2 2026-12-02 18:00 2026-12-03 白菜:5 鸡蛋:2\n"
    "BUILDINGS: building codes or compound names, separated by commas (a compound: all its "
    "buildings). DEADLINE: HH:MM (today) or YYYY-MM-DD HH:MM. DELIVERY-DAY: YYYY-MM-DD. "
    "ITEM: a product of the merchant's list, LIMIT the most one household may take (5 if "
    "left out)."
)
DEFAULT_LIMIT = 5
PAID_AHEAD = frozenset({"预付", "在线预付", "online"})
MAX_LIMIT = 99
_DAY = re.compile(r"\d{4}-\d{1,2}-\d{1,2}")
_TIME = re.compile(r"\d{1,2}[:：]\d{2}")


@dataclass(frozen=True)
class Opened:
    id: int
    buildings: int
    households: int


async def head(session: AsyncSession, gb: GroupBuy) -> Head:
    m = await session.get(Merchant, gb.merchant_id)
    assert m is not None
    point = await points_of(session, gb.id)
    return Head(
        gb.id,
        m.name,
        m.kind,
        gb.deadline_at,
        gb.delivery_day,
        gb.status,
        gb.payment,
        point,
        gb.delivered_at,
    )


async def points_of(session: AsyncSession, groupbuy_id: int, building_id: int | None = None) -> str:
    """The distribution points serving the group-buy's buildings (or one of them), as people
    say them: "幸福小区北门配送点（北门外空地）"; "" when no building has one yet."""
    q = (
        select(Place.name, Place.location)
        .join(Building, Building.place_id == Place.id)
        .join(GroupBuyBuilding, GroupBuyBuilding.building_id == Building.id)
        .where(GroupBuyBuilding.groupbuy_id == groupbuy_id)
        .distinct()
        .order_by(Place.name)
    )
    if building_id is not None:
        q = q.where(Building.id == building_id)
    rows = (await session.execute(q)).all()
    return "、".join(f"{name}（{where}）" if where else name for name, where in rows)


async def items_of(session: AsyncSession, groupbuy_id: int) -> list[GroupBuyItem]:
    q = (
        select(GroupBuyItem)
        .where(GroupBuyItem.groupbuy_id == groupbuy_id)
        .order_by(GroupBuyItem.position)
    )
    return list((await session.scalars(q)).all())


async def _buildings(session: AsyncSession, refs: str) -> list[Building]:
    """Building codes or compound names, separated by commas."""
    found: dict[int, Building] = {}
    for ref in [r.strip() for r in re.split(r"[,，、]", refs) if r.strip()]:
        b = await session.scalar(select(Building).where(Building.code == ref))
        if b is not None:
            found[b.id] = b
            continue
        whole = (
            await session.scalars(
                select(Building)
                .join(Compound, Compound.id == Building.compound_id)
                .where(Compound.name == ref)
                .order_by(Building.id)
            )
        ).all()
        if not whole:
            raise Refused(N_("There is no building or compound {ref}."), ref=ref)
        found.update((b.id, b) for b in whole)
    if not found:
        raise Refused(USAGE)
    return list(found.values())


def _split_args(args: list[str]) -> tuple[str, str, str, str, list[str]]:
    """(merchant, buildings, deadline, delivery day, items) from the command's words."""
    if len(args) < 5:
        raise Refused(USAGE)
    merchant, places, rest = args[0], args[1], args[2:]
    if _DAY.fullmatch(rest[0]) and len(rest) > 1 and _TIME.fullmatch(rest[1]):
        deadline, rest = f"{rest[0]} {rest[1]}", rest[2:]
    elif _TIME.fullmatch(rest[0]):
        deadline, rest = rest[0], rest[1:]
    else:
        raise Refused(USAGE)
    if len(rest) < 2:
        raise Refused(USAGE)
    return merchant, places, deadline, rest[0], rest[1:]


def _day(text: str) -> date:
    try:
        return datetime.strptime(text, "%Y-%m-%d").date()
    except ValueError:
        raise Refused(USAGE) from None


def _item(text: str) -> tuple[str, int]:
    name, _sep, limit = text.replace("：", ":").partition(":")
    if not limit:
        return name, DEFAULT_LIMIT
    if not limit.isdigit() or not 1 <= int(limit) <= MAX_LIMIT:
        raise Refused(N_("The limit of {item} must be a number from 1 to 99."), item=name)
    return name, int(limit)


async def open_from_args(
    rt: Runtime, session: AsyncSession, telegram_id: int, args: list[str]
) -> Opened:
    """/groupbuy's words (USAGE) checked, the group-buy made and announced."""
    await require_staff(session, telegram_id)
    # "预付" / "online" among the words: paid online in advance (else on delivery).
    payment = ONLINE if any(w.lower() in PAID_AHEAD for w in args) else ON_DELIVERY
    args = [w for w in args if w.lower() not in PAID_AHEAD]
    merchant_ref, places, deadline_text, day_text, item_texts = _split_args(args)
    merchant = await merchants.find(session, merchant_ref)
    deadline = notices.parse_when(deadline_text, rt.clock.now(), rt.timezone)
    day = _day(day_text)
    buildings = await _buildings(session, places)
    products = {p.name: p for p in await merchants.products(session, merchant.id)}
    chosen: dict[int, int] = {}
    for text in item_texts:
        name, limit = _item(text)
        if name not in products:
            raise Refused(
                N_("{item} is not on {merchant}'s list."), item=name, merchant=merchant.name
            )
        chosen[products[name].id] = limit
    return await open_groupbuy(
        rt,
        session,
        telegram_id,
        merchant.id,
        [b.id for b in buildings],
        deadline,
        day,
        chosen,
        payment,
    )


async def open_groupbuy(
    rt: Runtime,
    session: AsyncSession,
    telegram_id: int,
    merchant_id: int,
    building_ids: list[int],
    deadline: datetime,
    day: date,
    chosen: dict[int, int],
    payment: str = ON_DELIVERY,
) -> Opened:
    """Check and make a group-buy (the typed command's and the buttons' one way), then
    announce it: one notice per building. ``chosen``: product id -> limit per household."""
    scope = await require_staff(session, telegram_id)
    merchant = await session.get(Merchant, merchant_id)
    if merchant is None:
        raise stale()
    if deadline <= rt.clock.now():
        raise Refused(notices.PAST)
    if day < local_day(deadline, rt.timezone):
        raise Refused(N_("The delivery day cannot be before the deadline."))
    buildings = list(
        (await session.scalars(select(Building).where(Building.id.in_(building_ids)))).all()
    )
    if not buildings or len(buildings) != len(set(building_ids)):
        raise Refused(USAGE)
    grids = {
        g.id: g
        for g in await session.scalars(
            select(Grid).where(Grid.id.in_({b.grid_id for b in buildings}))
        )
    }
    communities = {g.community_id for g in grids.values()}
    if len(communities) != 1:
        raise Refused(N_("A group-buy is for buildings of one community."))
    community_id = communities.pop()
    for b in buildings:
        if not scope.covers(community_id, b.grid_id):
            raise Refused(notices.NOT_YOURS)
    # The merchant serves the community: its row locked, so that staff taking the merchant off
    # the community meanwhile (merchant_staff.remove, which locks it too) waits for this
    # group-buy and then sees it, or this one waits and is refused.
    if await merchants.serves_locked(session, merchant.id, community_id) is None:
        raise Refused(merchants.NOT_YOUR_MERCHANT)
    listed = {p.id: p for p in await merchants.products(session, merchant.id)}
    if not chosen:
        raise Refused(N_("Please choose at least one item."))
    for pid, limit in chosen.items():
        if pid not in listed or not 1 <= limit <= MAX_LIMIT:
            raise stale()
    now = rt.clock.now()
    gb = GroupBuy(
        community_id=community_id,
        merchant_id=merchant.id,
        created_by=telegram_id,
        created_at=now,
        deadline_at=deadline,
        delivery_day=day,
        status="open",
        payment=payment if payment in PAYMENT else ON_DELIVERY,
    )
    session.add(gb)
    await session.flush()
    for position, (pid, limit) in enumerate(chosen.items()):
        p = listed[pid]
        session.add(
            GroupBuyItem(
                groupbuy_id=gb.id,
                product_id=p.id,
                name=p.name,
                unit=p.unit,
                price_fen=p.price_fen,
                per_household=limit,
                position=position,
            )
        )
    for b in buildings:
        session.add(GroupBuyBuilding(groupbuy_id=gb.id, building_id=b.id))
    await session.flush()
    await audit.record(
        session, rt.clock, telegram_id, "groupbuy.opened", merchant.name, groupbuy=gb.id
    )
    # Announced in the community's language: a notice's text is one text for everyone.
    _ = gettext_for(rt.default_language)
    items = [
        Item(i.id, i.name, i.unit, i.price_fen, i.per_household)
        for i in await items_of(session, gb.id)
    ]
    text = announcement(_, await head(session, gb), items, rt.timezone)
    households = 0
    for b in buildings:
        notice = await notices.create(
            rt, session, telegram_id, notices.BUILDING, f"b{b.id}", text, groupbuy_id=gb.id
        )
        households += notice.recipients
    return Opened(gb.id, len(buildings), households)


@dataclass(frozen=True)
class Card:
    head: Head
    items: list[Item]
    is_open: bool
    note: str | None = None  # a msgid said with the press (closed, at the limit)
    note_params: dict[str, int] | None = None
    resident_id: int | None = None  # whose card it is


def is_open(gb: GroupBuy, now: datetime) -> bool:
    return gb.status == "open" and now < gb.deadline_at


async def _household(session: AsyncSession, telegram_id: int, gb: GroupBuy) -> Resident:
    """The presser's household, if the group-buy is for its building."""
    resident = await session.scalar(
        select(Resident).where(Resident.telegram_id == telegram_id, Resident.forgotten_at.is_(None))
    )
    if resident is None:
        raise Refused(NOT_FOR_YOU)
    ours = await session.scalar(
        select(GroupBuyBuilding.building_id).where(
            GroupBuyBuilding.groupbuy_id == gb.id,
            GroupBuyBuilding.building_id == resident.building_id,
        )
    )
    if ours is None:
        raise Refused(NOT_FOR_YOU)
    return resident


async def card_of(
    rt: Runtime,
    session: AsyncSession,
    gb: GroupBuy,
    resident_id: int,
    note: str | None = None,
    **params: int,
) -> Card:
    rows = await session.execute(
        select(GroupBuyItem, func.coalesce(GroupBuyLine.quantity, 0))
        .outerjoin(
            GroupBuyLine,
            and_(GroupBuyLine.item_id == GroupBuyItem.id, GroupBuyLine.resident_id == resident_id),
        )
        .where(GroupBuyItem.groupbuy_id == gb.id)
        .order_by(GroupBuyItem.position)
    )
    items = [
        Item(i.id, i.name, i.unit, i.price_fen, i.per_household, int(q)) for i, q in rows.all()
    ]
    return Card(
        await head(session, gb),
        items,
        is_open(gb, rt.clock.now()),
        note,
        params or None,
        resident_id,
    )


async def view(rt: Runtime, session: AsyncSession, telegram_id: int, groupbuy_id: int) -> Card:
    gb = await session.get(GroupBuy, groupbuy_id)
    if gb is None:
        raise stale()
    resident = await _household(session, telegram_id, gb)
    return await card_of(rt, session, gb, resident.id)


async def join(
    rt: Runtime, session: AsyncSession, telegram_id: int, notice_id: int, pressed: int | None
) -> Card:
    """🛒 on the announcement: its receipt is recorded (as ✅ would), and the card shown."""
    notice = await session.get(Notice, notice_id)
    if notice is None or notice.groupbuy_id is None:
        raise stale()
    await notices.confirm(rt, session, notice_id, telegram_id, pressed)
    return await view(rt, session, telegram_id, notice.groupbuy_id)


async def change(
    rt: Runtime, session: AsyncSession, telegram_id: int, item_id: int, delta: int
) -> Card:
    """＋ (delta 1) or － (delta -1) on one item; the card as it is afterwards."""
    item = await session.get(GroupBuyItem, item_id)
    if item is None:
        raise stale()
    # FOR SHARE: the sweep's closing UPDATE waits for this press (PostgreSQL; SQLite's writes
    # are serial anyway).
    gb = await session.scalar(
        select(GroupBuy).where(GroupBuy.id == item.groupbuy_id).with_for_update(read=True)
    )
    assert gb is not None
    resident = await _household(session, telegram_id, gb)
    now = rt.clock.now()
    if not is_open(gb, now):
        return await card_of(rt, session, gb, resident.id, CLOSED_ALERT)
    # One household's presses one after another: the first line of an item is inserted once.
    await session.execute(select(Resident.id).where(Resident.id == resident.id).with_for_update())
    line = GroupBuyLine.__table__.c
    cond = [line.item_id == item.id, line.resident_id == resident.id]
    if delta > 0:
        res = await affected_rows(
            session,
            update(GroupBuyLine)
            .where(*cond, line.quantity < item.per_household)
            .values(quantity=line.quantity + 1, updated_at=now),
        )
        if res == 0:
            exists = await session.scalar(select(GroupBuyLine.id).where(*cond))
            if exists is not None:
                return await card_of(
                    rt, session, gb, resident.id, AT_LIMIT, limit=item.per_household
                )
            session.add(
                GroupBuyLine(
                    groupbuy_id=gb.id,
                    item_id=item.id,
                    resident_id=resident.id,
                    quantity=1,
                    updated_at=now,
                )
            )
            await session.flush()
    else:
        await affected_rows(
            session,
            update(GroupBuyLine)
            .where(*cond, line.quantity > 0)
            .values(quantity=line.quantity - 1, updated_at=now),
        )
    return await card_of(rt, session, gb, resident.id)
