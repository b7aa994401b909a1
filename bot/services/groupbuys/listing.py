"""A household's open group-buys: those of its building whose deadline has not passed. For
🛒 团购 in the resident's menu, and for someone who registers after a group-buy was announced
(the announcement went to the households registered then)."""

from __future__ import annotations

from datetime import datetime

from sqlalchemy import ColumnElement, func, select
from sqlalchemy.ext.asyncio import AsyncSession

from bot.errors import Refused
from bot.i18n import N_
from bot.runtime import Runtime
from bot.services.groupbuys import kept
from bot.services.groupbuys.buys import Card, card_of
from models import GroupBuy, GroupBuyBuilding, Resident

NOT_REGISTERED = N_("Please register your address first: press /start.")
# The most cards one press sends (a private chat takes about one message a second).
SHOWN = 5


def _open_for_building(building_id: int, now: datetime) -> list[ColumnElement[bool]]:
    return [
        GroupBuyBuilding.building_id == building_id,
        GroupBuy.status == "open",
        GroupBuy.deadline_at > now,
    ]


async def count_open(rt: Runtime, session: AsyncSession, building_id: int) -> int:
    return int(
        await session.scalar(
            select(func.count())
            .select_from(GroupBuy)
            .join(GroupBuyBuilding, GroupBuyBuilding.groupbuy_id == GroupBuy.id)
            .where(*_open_for_building(building_id, rt.clock.now()))
        )
        or 0
    )


async def open_for(rt: Runtime, session: AsyncSession, telegram_id: int) -> list[Card]:
    """The household's card of each open group-buy of its building, soonest deadline first."""
    resident = await session.scalar(
        select(Resident).where(Resident.telegram_id == telegram_id, Resident.forgotten_at.is_(None))
    )
    if resident is None:
        raise Refused(NOT_REGISTERED)
    found = await session.scalars(
        select(GroupBuy)
        .join(GroupBuyBuilding, GroupBuyBuilding.groupbuy_id == GroupBuy.id)
        .where(*_open_for_building(resident.building_id, rt.clock.now()))
        .order_by(GroupBuy.deadline_at, GroupBuy.id)
        .limit(SHOWN)
    )
    return [await card_of(rt, session, gb, resident.id) for gb in found]


async def show_open(rt: Runtime, session: AsyncSession, telegram_id: int) -> int:
    """🛒 团购: the household's card of each open group-buy owed (through the outbox, kept, so
    the close edits it); how many."""
    cards = await open_for(rt, session, telegram_id)
    for c in cards:
        await kept.send_card(rt, session, c, telegram_id)
    return len(cards)
