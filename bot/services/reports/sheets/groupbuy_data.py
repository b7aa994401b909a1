"""What the ledger's group-buy sheets are read from (groupbuy_sheet.py builds them): the
group-buys of the days, and their households' lines, doors and reports in the scope's grids,
as plain tuples (picklable: the export builds its sheets in a child process)."""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import datetime
from typing import Any

from sqlalchemy import or_, select
from sqlalchemy.ext.asyncio import AsyncSession

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
    StaffAlert,
)


@dataclass(frozen=True)
class GroupBuyData:
    # id, merchant, payment
    heads: list[tuple[Any, ...]] = field(default_factory=list)
    # groupbuy id, resident id, compound, building, unit, room, name, phone, item, quantity,
    # price (fen)
    lines: list[tuple[Any, ...]] = field(default_factory=list)
    # groupbuy id, resident id, door id, delivered, received, paid at, paid how
    doors: list[tuple[Any, ...]] = field(default_factory=list)
    # door id, item, kind, note, handled at
    problems: list[tuple[Any, ...]] = field(default_factory=list)


async def groupbuy_data(
    session: AsyncSession, grids: tuple[int, ...], start: datetime, end: datetime
) -> GroupBuyData:
    """The group-buys of the days and their households in these grids."""
    heads = [
        tuple(r)
        for r in (
            await session.execute(
                select(GroupBuy.id, Merchant.name, GroupBuy.payment)
                .join(Merchant, Merchant.id == GroupBuy.merchant_id)
                .where(
                    GroupBuy.created_at < end,
                    or_(
                        GroupBuy.created_at >= start,
                        GroupBuy.delivered_at >= start,
                        GroupBuy.status != "delivered",
                    ),
                )
                .order_by(GroupBuy.id)
            )
        ).all()
    ]
    if not heads or not grids:
        return GroupBuyData()
    ids = [h[0] for h in heads]
    lines = [
        tuple(r)
        for r in (
            await session.execute(
                select(
                    GroupBuyLine.groupbuy_id,
                    Resident.id,
                    Compound.name,
                    Building.name,
                    Resident.unit,
                    Resident.room,
                    Resident.name,
                    Resident.phone,
                    GroupBuyItem.name,
                    GroupBuyLine.quantity,
                    GroupBuyItem.price_fen,
                )
                .join(GroupBuyItem, GroupBuyItem.id == GroupBuyLine.item_id)
                .join(Resident, Resident.id == GroupBuyLine.resident_id)
                .join(Building, Building.id == Resident.building_id)
                .join(Compound, Compound.id == Building.compound_id)
                .where(
                    GroupBuyLine.groupbuy_id.in_(ids),
                    GroupBuyLine.quantity > 0,
                    Building.grid_id.in_(grids),
                )
                .order_by(
                    GroupBuyLine.groupbuy_id,
                    Building.id,
                    Resident.unit,
                    Resident.room,
                    Resident.id,
                    GroupBuyItem.position,
                )
            )
        ).all()
    ]
    doors = [
        tuple(r)
        for r in (
            await session.execute(
                select(
                    GroupBuyRun.groupbuy_id,
                    GroupBuyDoor.resident_id,
                    GroupBuyDoor.id,
                    GroupBuyDoor.delivered_at,
                    GroupBuyDoor.received_at,
                    GroupBuyDoor.paid_at,
                    GroupBuyDoor.paid_how,
                )
                .join(GroupBuyRun, GroupBuyRun.id == GroupBuyDoor.run_id)
                .where(GroupBuyRun.groupbuy_id.in_(ids))
            )
        ).all()
    ]
    problems = [
        tuple(r)
        for r in (
            await session.execute(
                select(
                    GroupBuyProblem.door_id,
                    GroupBuyItem.name,
                    GroupBuyProblem.kind,
                    GroupBuyProblem.note,
                    StaffAlert.handled_at,
                )
                .join(GroupBuyItem, GroupBuyItem.id == GroupBuyProblem.item_id)
                .outerjoin(StaffAlert, StaffAlert.id == GroupBuyProblem.alert_id)
                .where(GroupBuyProblem.groupbuy_id.in_(ids))
                .order_by(GroupBuyProblem.id)
            )
        ).all()
    ]
    return GroupBuyData(heads, lines, doors, problems)
