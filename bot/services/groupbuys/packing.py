"""A group-buy at the distribution point, split by building: when the merchant marks it
delivered, each building with households taking part gets a run (its packing list) and a post
in its grid's group (the building, how many households, the items: no door, no name); one
volunteer of the grid takes it (🙋, one wins: a conditional UPDATE), gets the list door by
door in their private chat, and marks each door delivered (✅, once: a conditional UPDATE),
which tells that household.

Privacy: doors (unit-room) only in the taker's private chat; never a name or a phone."""

from __future__ import annotations

import functools
from dataclasses import dataclass

from sqlalchemy import func, select, update
from sqlalchemy.ext.asyncio import AsyncSession

from bot import outbox
from bot.buttons import Button, Rows
from bot.db import affected_rows
from bot.errors import Refused, stale
from bot.i18n import N_, P_, Gettext, gettext_for, ngettext
from bot.runtime import Runtime
from bot.services import building_status
from bot.services.amounts import yuan
from bot.services.groupbuys import buys, doors, texts
from bot.services.groupbuys.doors import ON_DELIVERY
from bot.services.messages import tell
from bot.services.people import approved_volunteer
from models import (
    Building,
    Compound,
    Grid,
    GroupBuy,
    GroupBuyDoor,
    GroupBuyItem,
    GroupBuyLine,
    GroupBuyRun,
    Merchant,
    Resident,
    Volunteer,
    VolunteerStatus,
)

AT_POINT = N_("📦 Group-buy #{id} ({merchant}) is at {point}.")
RUN_LINE = P_("{building}: {n} household · {items}", "{building}: {n} households · {items}")
WHO_CARRIES = N_("Who sorts it and carries it to the doors? The doors come privately.")
TAKE = N_("🙋 I'll carry {building}")
TAKEN_BY = N_("Taken by {name}.")
ALL_DONE = N_("All doors delivered.")
# A building whose status says "pickup": its households fetch their share at the point, where a
# volunteer hands each its own.
WHO_HANDS = N_(
    "Its households fetch it at the point. Who sorts it there and hands each its share? The "
    "doors come privately."
)
TAKE_HAND = N_("🙋 I'll hand out {building}")
HANDED = N_("✅ {door} fetched")
ALL_HANDED = N_("All households have fetched theirs.")
COME_FETCH = N_(
    "📦 Your group-buy #{id} ({merchant}) is at {point}: {items}. Please fetch it there{times}, "
    "and say your door, {door}."
)
FETCH_TIMES = N_(" ({times})")
BATCH = N_("📷 All the rest, with one photo")
SEND_BATCH_PHOTO = N_(
    "Send one photo of {building}'s deliveries (the goods at the doors, or in a row in the "
    "stairwell): the doors not yet marked are then marked delivered, and each household told."
)
BATCH_DONE = P_(
    "Marked with the photo: {n} door.",
    "Marked with the photo: {n} doors.",
)
LIST_HEAD = N_("📋 Packing list · group-buy #{id} · {building}")
MARK = N_("✅ {door} delivered")
AT_DOOR = doors.AT_DOOR
ONLY_GRID = N_("Only approved volunteers of this building's grid can take it.")
ALREADY_TAKEN = N_("{name} has already taken it.")
NOT_YOURS = N_("This packing list is another volunteer's.")
YOURS_NOW = N_("It is yours: the packing list is in your private chat with me.")


def take_data(run_id: int) -> str:
    return f"gb:tk:{run_id}"


def batch_data(run_id: int) -> str:
    return f"gb:bp:{run_id}"


def mark_data(door_id: int) -> str:
    return f"gb:dd:{door_id}"


@dataclass(frozen=True)
class Door:
    id: int
    door: str  # "1-101": unit-room
    items: str  # "白菜 ×3, 鸡蛋 ×1"
    delivered: bool
    amount_fen: int = 0
    paid: bool = False


@dataclass(frozen=True)
class Run:
    id: int
    groupbuy_id: int
    merchant: str
    building: str
    grid_id: int
    group_chat_id: int | None
    volunteer: str | None
    volunteer_telegram_id: int | None
    totals: str
    doors: list[Door]
    payment: str = ON_DELIVERY
    point: str = ""  # the building's distribution point ("": none set)
    pickup: bool = False  # fetched at the point by its households, not carried to the doors


async def _label(session: AsyncSession, b: Building) -> str:
    compound = await session.get(Compound, b.compound_id)
    return f"{compound.name} {b.name}" if compound and compound.name else b.name


def _items(rows: list[tuple[str, int]]) -> str:
    return ", ".join(f"{name} ×{q}" for name, q in rows)


async def run(session: AsyncSession, run_id: int) -> Run:
    r = await session.get(GroupBuyRun, run_id, populate_existing=True)
    if r is None:
        raise stale()
    gb = await session.get(GroupBuy, r.groupbuy_id)
    b = await session.get(Building, r.building_id)
    assert gb is not None and b is not None
    merchant = await session.get(Merchant, gb.merchant_id)
    grid = await session.get(Grid, b.grid_id)
    assert merchant is not None and grid is not None
    door_rows = (
        await session.execute(
            select(GroupBuyDoor, Resident.unit, Resident.room)
            .join(Resident, Resident.id == GroupBuyDoor.resident_id)
            .where(GroupBuyDoor.run_id == r.id)
            .order_by(Resident.unit, Resident.room, GroupBuyDoor.id)
        )
    ).all()
    lines = (
        await session.execute(
            select(
                GroupBuyLine.resident_id,
                GroupBuyItem.name,
                GroupBuyLine.quantity,
                GroupBuyItem.price_fen,
            )
            .join(GroupBuyItem, GroupBuyItem.id == GroupBuyLine.item_id)
            .join(Resident, Resident.id == GroupBuyLine.resident_id)
            .where(
                GroupBuyLine.groupbuy_id == gb.id,
                GroupBuyLine.quantity > 0,
                Resident.building_id == b.id,
            )
            .order_by(GroupBuyItem.position)
        )
    ).all()
    per_door: dict[int, list[tuple[str, int]]] = {}
    owed: dict[int, int] = {}
    totals: dict[str, int] = {}
    for rid, name, q, price in lines:
        per_door.setdefault(rid, []).append((name, q))
        owed[rid] = owed.get(rid, 0) + q * price
        totals[name] = totals.get(name, 0) + q
    volunteer = None
    if r.volunteer_telegram_id is not None:
        volunteer = await session.scalar(
            select(Volunteer.name).where(Volunteer.telegram_id == r.volunteer_telegram_id)
        )
    return Run(
        r.id,
        gb.id,
        merchant.name,
        await _label(session, b),
        grid.id,
        grid.group_chat_id,
        volunteer,
        r.volunteer_telegram_id,
        _items(list(totals.items())),
        [
            Door(
                d.id,
                f"{unit}-{room}",
                _items(per_door.get(d.resident_id, [])),
                d.delivered_at is not None,
                owed.get(d.resident_id, 0),
                d.paid_at is not None,
            )
            for d, unit, room in door_rows
        ],
        gb.payment,
        await buys.points_of(session, gb.id, b.id),
        r.pickup_place_id is not None,
    )


def group_post(_: Gettext, v: Run) -> tuple[str, Rows]:
    """The grid group's post: the building, households and items; 🙋 until taken."""
    lines = [
        _(AT_POINT).format(id=v.groupbuy_id, merchant=v.merchant, point=v.point or _(texts.POINT)),
        ngettext(_, RUN_LINE, len(v.doors)).format(
            building=v.building, n=len(v.doors), items=v.totals
        ),
    ]
    if v.volunteer_telegram_id is None:
        lines.append(_(WHO_HANDS if v.pickup else WHO_CARRIES))
        take = _(TAKE_HAND if v.pickup else TAKE).format(building=v.building)
        return "\n".join(lines), [[Button(take, take_data(v.id))]]
    lines.append(_(TAKEN_BY).format(name=v.volunteer or ""))
    if all(d.delivered for d in v.doors):
        lines.append(_(ALL_HANDED if v.pickup else ALL_DONE))
    return "\n".join(lines), []


def _post_of(v: Run, _: Gettext) -> tuple[str, Rows]:
    return group_post(_, v)


def packing_list(_: Gettext, v: Run) -> tuple[str, Rows]:
    """The taker's list, door by door: ✅ on a door marks it delivered; a group-buy paid on
    delivery then offers 💵 for the cash taken at that door."""
    cash = v.payment == ON_DELIVERY
    lines = [_(LIST_HEAD).format(id=v.groupbuy_id, building=v.building), v.totals, ""]
    lines += [
        f"{d.door}: {d.items} · ¥{yuan(d.amount_fen)}"
        + (" ✅" if d.delivered else "")
        + (" 💰" if d.paid else "")
        for d in v.doors
    ]
    if all(d.delivered for d in v.doors):
        lines += ["", _(ALL_HANDED if v.pickup else ALL_DONE)]
    mark = HANDED if v.pickup else MARK
    rows = [
        [Button(_(mark).format(door=d.door), mark_data(d.id))] for d in v.doors if not d.delivered
    ]
    if len(rows) > 1 and not v.pickup:  # carried up: one photo may do for the building
        rows.append([Button(_(BATCH), batch_data(v.id))])
    rows += [
        [
            Button(
                _(doors.CASH_BUTTON).format(door=d.door, amount=yuan(d.amount_fen)),
                doors.cash_data(d.id),
            )
        ]
        for d in v.doors
        if cash and d.delivered and not d.paid
    ]
    return "\n".join(lines), rows


async def make_runs(session: AsyncSession, gb: GroupBuy) -> list[int]:
    """One run per building with households taking part, and its doors (the households), made
    when the group-buy closes (what households took is final then), so that payments can be
    recorded from then on; made again at delivery only where missing. The run ids."""
    takers = (
        await session.execute(
            select(Resident.building_id, Resident.id)
            .join(GroupBuyLine, GroupBuyLine.resident_id == Resident.id)
            .where(GroupBuyLine.groupbuy_id == gb.id, GroupBuyLine.quantity > 0)
            .group_by(Resident.building_id, Resident.id)
            .order_by(Resident.building_id, Resident.id)
        )
    ).all()
    by_building: dict[int, list[int]] = {}
    for bid, rid in takers:
        by_building.setdefault(bid, []).append(rid)
    existing = {
        r.building_id: r
        for r in await session.scalars(select(GroupBuyRun).where(GroupBuyRun.groupbuy_id == gb.id))
    }
    ids = []
    for bid, rids in by_building.items():
        r = existing.get(bid)
        if r is None:
            r = GroupBuyRun(groupbuy_id=gb.id, building_id=bid)
            session.add(r)
            await session.flush()
        have = set(
            await session.scalars(
                select(GroupBuyDoor.resident_id).where(GroupBuyDoor.run_id == r.id)
            )
        )
        session.add_all(
            GroupBuyDoor(run_id=r.id, resident_id=rid) for rid in rids if rid not in have
        )
        await session.flush()
        ids.append(r.id)
    return ids


async def post_runs(rt: Runtime, session: AsyncSession, gb: GroupBuy) -> int:
    """Each building's run (made at the close, or now) posted to its grid's group."""
    runs = await make_runs(session, gb)
    _ = gettext_for(rt.default_language)
    for run_id in runs:
        await _fetched_or_carried(rt, session, run_id)
        v = await run(session, run_id)
        if v.group_chat_id is not None:
            text, rows = group_post(_, v)
            outbox.enqueue(
                session, rt.clock, chat_id=v.group_chat_id, text=text, buttons=rows, is_group=True
            )
        else:  # a grid with no group chat: its volunteers are asked one by one, privately
            volunteers = await session.scalars(
                select(Volunteer.telegram_id).where(
                    Volunteer.grid_id == v.grid_id, Volunteer.status == VolunteerStatus.APPROVED
                )
            )
            await tell(rt, session, list(volunteers), functools.partial(_post_of, v))
    return len(runs)


async def _fetched_or_carried(rt: Runtime, session: AsyncSession, run_id: int) -> None:
    """The building's status now decides: "pickup" with a point serving it, and its households
    are told to fetch their share there (each its own door and items); else to the doors."""
    r = await session.get(GroupBuyRun, run_id)
    assert r is not None
    place = await building_status.pickup_of_building(rt, session, r.building_id)
    if place is None:
        return
    r.pickup_place_id = await building_status.pickup_place(rt, session, r.building_id)
    await session.flush()
    v = await run(session, run_id)
    where = f"{place.pickup_name}（{place.pickup_location}）" if place.pickup_location else ""
    where = where or place.pickup_name
    for d in v.doors:
        dv = await doors.door_view(session, d.id)
        if not dv.resident_telegram_id:
            continue

        def told(_: Gettext, dv: doors.DoorView = dv) -> str:
            times = _(FETCH_TIMES).format(times=place.pickup_times) if place.pickup_times else ""
            return _(COME_FETCH).format(
                id=v.groupbuy_id,
                merchant=v.merchant,
                point=where,
                items=dv.items,
                times=times,
                door=dv.door,
            )

        await tell(rt, session, dv.resident_telegram_id, told)


async def take(rt: Runtime, session: AsyncSession, telegram_id: int, run_id: int) -> Run:
    """🙋 in the group: the run is this volunteer's (one wins); the list comes privately."""
    vol = await approved_volunteer(session, telegram_id, ONLY_GRID)
    r = await session.get(GroupBuyRun, run_id)
    gb = None if r is None else await session.get(GroupBuy, r.groupbuy_id)
    if gb is None or gb.status != "delivered":  # a run exists from the close; posted at delivery
        raise stale()
    v = await run(session, run_id)
    if vol.grid_id != v.grid_id:
        raise Refused(ONLY_GRID)
    res = await affected_rows(
        session,
        update(GroupBuyRun)
        .where(GroupBuyRun.id == run_id, GroupBuyRun.volunteer_telegram_id.is_(None))
        .values(volunteer_telegram_id=telegram_id, claimed_at=rt.clock.now()),
    )
    if res != 1:
        raise Refused(ALREADY_TAKEN, name=(await run(session, run_id)).volunteer or "")
    v = await run(session, run_id)
    await tell(rt, session, telegram_id, lambda _: packing_list(_, v))
    return v


async def mark(rt: Runtime, session: AsyncSession, telegram_id: int, door_id: int) -> Run:
    """✅ on a door of the taker's list: delivered (once); the household is told."""
    door = await session.get(GroupBuyDoor, door_id)
    if door is None:
        raise stale()
    r = await session.get(GroupBuyRun, door.run_id)
    assert r is not None
    if r.volunteer_telegram_id != telegram_id:
        raise Refused(NOT_YOURS)
    if await _deliver(rt, session, r, door_id, telegram_id):
        await _done_if_all(rt, session, r)
    return await run(session, r.id)


async def _deliver(
    rt: Runtime, session: AsyncSession, r: GroupBuyRun, door_id: int, telegram_id: int
) -> bool:
    """One door delivered, once (a conditional UPDATE); its household told."""
    res = await affected_rows(
        session,
        update(GroupBuyDoor)
        .where(GroupBuyDoor.id == door_id, GroupBuyDoor.delivered_at.is_(None))
        .values(delivered_at=rt.clock.now(), delivered_by=telegram_id),
    )
    if res != 1:
        return False
    dv = await doors.door_view(session, door_id)
    if dv.resident_telegram_id:
        # ✅ 已收到, ⚠️ 少了/不对 and 💰 已付款 on the household's own message.
        tz, who = rt.timezone, dv.resident_telegram_id
        await tell(rt, session, who, lambda _: doors.resident_message(_, dv, tz))
    return True


async def _done_if_all(rt: Runtime, session: AsyncSession, r: GroupBuyRun) -> None:
    left = await session.scalar(
        select(func.count())
        .select_from(GroupBuyDoor)
        .where(GroupBuyDoor.run_id == r.id, GroupBuyDoor.delivered_at.is_(None))
    )
    if not left:
        await affected_rows(
            session,
            update(GroupBuyRun)
            .where(GroupBuyRun.id == r.id, GroupBuyRun.done_at.is_(None))
            .values(done_at=rt.clock.now()),
        )


async def own_run(session: AsyncSession, telegram_id: int, run_id: int) -> Run:
    """The run, if this volunteer took it (📷 asked)."""
    r = await session.get(GroupBuyRun, run_id)
    if r is None:
        raise stale()
    if r.volunteer_telegram_id != telegram_id:
        raise Refused(NOT_YOURS)
    return await run(session, run_id)


async def mark_all(
    rt: Runtime, session: AsyncSession, telegram_id: int, run_id: int, photo: str
) -> tuple[Run, int]:
    """📷 then a photo: the doors not yet marked are delivered with it (each once, told); the
    photo is kept on the run. How many it marked."""
    await own_run(session, telegram_id, run_id)
    r = await session.get(GroupBuyRun, run_id)
    assert r is not None
    waiting = list(
        await session.scalars(
            select(GroupBuyDoor.id).where(
                GroupBuyDoor.run_id == run_id, GroupBuyDoor.delivered_at.is_(None)
            )
        )
    )
    if waiting:  # a photo that marks no door (all done meanwhile) replaces nothing
        r.photo = photo
    n = 0
    for door_id in waiting:
        n += await _deliver(rt, session, r, door_id, telegram_id)
    await _done_if_all(rt, session, r)
    return await run(session, run_id), n
