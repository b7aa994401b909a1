"""What the ledger is made of, read from the database as plain tuples (`LedgerData`), so the
sheets can be built in a worker thread, away from the event loop and from any session. The
rows are those of one scope (bot.services.scope) over some local days; one reading function
per kind of row."""

from __future__ import annotations

import asyncio
from dataclasses import dataclass, field
from datetime import date, datetime
from typing import Any

from sqlalchemy import String, cast, func, literal, select
from sqlalchemy.ext.asyncio import AsyncSession

from bot.services.reports.days import day_bounds
from bot.services.reports.sheets.groupbuy_data import GroupBuyData, groupbuy_data
from bot.services.scope import Scope, grid_ids
from models import (
    AuditEntry,
    Building,
    BuildingStatus,
    CareCheck,
    Community,
    Compound,
    Grid,
    GroupBuyDoor,
    GroupBuyRun,
    Notice,
    NoticeDelivery,
    Order,
    OrderEvent,
    OutboxMessage,
    Place,
    Resident,
    ResidentCareFlag,
    Staff,
    Volunteer,
)

# Rows are read in partitions of this size: between two, the event loop serves other updates
# (a whole 20,000-order result turned into Python values at once would stall it for seconds).
READ_CHUNK = 500


@dataclass(frozen=True)
class LedgerData:
    """What the ledger of one scope and some local days shows, as plain values."""

    scope: Scope
    grid_ids: tuple[int, ...]  # the grids the scope covers
    start: datetime
    end: datetime
    tz: str
    day_from: date
    day_to: date
    communities: dict[int, str]
    grids: dict[int, tuple[str, int]]  # id -> (name, community id)
    staff_names: dict[int, str]
    # id, telegram id, name, phone, grid id, status, on duty since, created, decided by/at
    volunteers: list[tuple[Any, ...]]
    orders: list[tuple[Any, ...]]
    events: list[tuple[Any, ...]]
    notices: list[tuple[Any, ...]]
    deliveries: list[tuple[Any, ...]]
    buildings: dict[int, str]  # id -> its compound and name: 幸福小区 2栋
    audit: list[tuple[Any, ...]]
    residents: dict[int, str]  # the names of the residents the audit rows are about
    # Residents who acted in the audit rows (a payment's "paid"), by Telegram id: their names.
    resident_actors: dict[int, str]
    # The care list's households in scope (on it now, or asked in the days), their flags and
    # their check-ins in the days.
    care: list[tuple[Any, ...]]
    care_flags: list[tuple[int, str]]
    care_checks: list[tuple[Any, ...]]
    # The group-buys of the days and their households in scope (issue 17).
    groupbuys: GroupBuyData = field(default_factory=GroupBuyData)
    # Each building in scope (issue 17): id, grid id, code, its place's name, its status's
    # label (as set), since when, the orders and the group-buy doors delivered in the days.
    building_status: list[tuple[Any, ...]] = field(default_factory=list)


async def _rows(session: AsyncSession, stmt: Any) -> list[tuple[Any, ...]]:
    """The plain rows (tuples, no ORM objects) of a column query, read in partitions on the
    session's connection (Core: the rows need none of the ORM's loading, which cost a fifth
    of the read of a district's month)."""
    out: list[tuple[Any, ...]] = []
    conn = await session.connection()
    result = await conn.stream(stmt.execution_options(yield_per=READ_CHUNK))
    async for part in result.partitions(READ_CHUNK):
        out.extend(tuple(r) for r in part)
        await asyncio.sleep(0)
    return out


async def _staff_names(session: AsyncSession) -> dict[int, str]:
    """Each staff member's name (their first row's)."""
    names: dict[int, str] = {}
    for tid, name in (
        await session.execute(select(Staff.telegram_id, Staff.name).order_by(Staff.id))
    ).all():
        names.setdefault(tid, name)
    return names


async def _volunteers(session: AsyncSession) -> list[tuple[Any, ...]]:
    return await _rows(
        session,
        select(
            Volunteer.id,
            Volunteer.telegram_id,
            Volunteer.name,
            Volunteer.phone,
            Volunteer.grid_id,
            Volunteer.status,
            Volunteer.on_duty_since,
            Volunteer.created_at,
            Volunteer.decided_by,
            Volunteer.decided_at,
        ).order_by(Volunteer.id),
    )


async def _orders(
    session: AsyncSession, grids: tuple[int, ...] | None, start: datetime, end: datetime
) -> list[tuple[Any, ...]]:
    """The orders of these grids (None: every grid, not filtered by grid) created in the
    days."""
    in_grids = () if grids is None else (Order.grid_id.in_(grids),)
    return await _rows(
        session,
        select(
            Order.id,
            Order.community_id,
            Order.grid_id,
            Compound.name,
            Building.name,
            Order.unit,
            Order.room,
            Order.contact_name,
            Order.contact_phone,
            Order.category,
            Order.description,
            Order.urgency,
            Order.status,
            Order.volunteer_id,
            Order.amount_spent_fen,
            Order.created_at,
            Order.claimed_at,
            Order.delivered_at,
            Order.closed_at,
            Order.rating,
            Order.reason,
            Order.paid_at,
            Order.paid_confirmed_at,
            Order.channel,
            Order.entered_by,
        )
        .join(Building, Building.id == Order.building_id)
        .join(Compound, Compound.id == Building.compound_id)
        .where(*in_grids, Order.created_at >= start, Order.created_at < end)
        .order_by(Order.id),
    )


async def _events(
    session: AsyncSession, grids: tuple[int, ...] | None, start: datetime, end: datetime
) -> list[tuple[Any, ...]]:
    """The events of the orders of these grids in the days (None: every grid; then the events
    are not joined to their orders at all: at a district's scale that join is most of the
    read)."""
    q = (
        select(
            OrderEvent.order_id,
            OrderEvent.at,
            OrderEvent.actor,
            OrderEvent.actor_telegram_id,
            OrderEvent.from_status,
            OrderEvent.to_status,
            OrderEvent.note,
        )
        .where(OrderEvent.at >= start, OrderEvent.at < end)
        .order_by(OrderEvent.id)
    )
    if grids is not None:
        q = q.join(Order, Order.id == OrderEvent.order_id).where(Order.grid_id.in_(grids))
    return await _rows(session, q)


async def _community_ids(session: AsyncSession, grids: tuple[int, ...]) -> set[int]:
    """The communities of these grids."""
    if not grids:
        return set()
    return set(
        await session.scalars(select(Grid.community_id).where(Grid.id.in_(grids)).distinct())
    )


async def _notices(
    session: AsyncSession,
    scope: Scope,
    grids: tuple[int, ...],
    community_ids: set[int],
    start: datetime,
    end: datetime,
) -> list[tuple[Any, ...]]:
    """The notices created in these days, to a grid covered or a whole community of one."""
    nq = select(
        Notice.id,
        Notice.community_id,
        Notice.grid_id,
        Notice.audience,
        Notice.text,
        Notice.author_telegram_id,
        Notice.created_at,
        Notice.send_at,
        Notice.sent_at,
        Notice.cancelled_at,
        Notice.audience_id,
    ).where(Notice.created_at >= start, Notice.created_at < end)
    if not scope.admin:
        nq = nq.where(
            Notice.grid_id.in_(grids)
            | (Notice.grid_id.is_(None) & Notice.community_id.in_(community_ids))
        )
    return await _rows(session, nq.order_by(Notice.id))


async def _deliveries(
    session: AsyncSession, notices: list[tuple[Any, ...]]
) -> list[tuple[Any, ...]]:
    if not notices:
        return []
    return await _rows(
        session,
        select(
            NoticeDelivery.notice_id,
            NoticeDelivery.chat_id,
            Resident.name,
            NoticeDelivery.building_id,
            OutboxMessage.status,
            OutboxMessage.sent_at,
            NoticeDelivery.confirmed_at,
            NoticeDelivery.resent,
        )
        .outerjoin(OutboxMessage, OutboxMessage.id == NoticeDelivery.outbox_id)
        .outerjoin(Resident, Resident.id == NoticeDelivery.resident_id)
        .where(NoticeDelivery.notice_id.in_([n[0] for n in notices]))
        .order_by(NoticeDelivery.notice_id, NoticeDelivery.id),
    )


async def _audit(
    session: AsyncSession,
    scope: Scope,
    grids: tuple[int, ...],
    all_grids: dict[int, tuple[str, int]],
    community_ids: set[int],
    start: datetime,
    end: datetime,
) -> list[tuple[Any, ...]]:
    aq = select(
        AuditEntry.at,
        AuditEntry.actor_telegram_id,
        AuditEntry.action,
        AuditEntry.target,
        AuditEntry.details,
    ).where(AuditEntry.at >= start, AuditEntry.at < end)
    if not scope.admin:
        # The audit log has no community: a scope's rows are those of the staff acting within
        # it (its grid leaders, and the staff of a community whose every grid it covers).
        whole = {
            cid
            for cid in community_ids
            if {g for g, (_, c) in all_grids.items() if c == cid} <= set(grids)
        }
        own = set(
            await session.scalars(
                select(Staff.telegram_id).where(
                    Staff.community_id.in_(whole) | Staff.grid_id.in_(grids)
                )
            )
        )
        # And what residents and volunteers did to the scope's orders (a payment's presses).
        orders = select(literal("order:", String).concat(cast(Order.id, String))).where(
            Order.grid_id.in_(grids)
        )
        aq = aq.where(AuditEntry.actor_telegram_id.in_(own) | AuditEntry.target.in_(orders))
    return await _rows(session, aq.order_by(AuditEntry.id))


async def _buildings(session: AsyncSession) -> dict[int, str]:
    """Each building with its compound's name, as staff know it: 幸福小区 2栋."""
    rows = await session.execute(
        select(Building.id, Compound.name, Building.name).join(
            Compound, Compound.id == Building.compound_id
        )
    )
    return {bid: f"{compound} {name}" for bid, compound, name in rows.all()}


async def _building_status(
    session: AsyncSession, grids: tuple[int, ...], start: datetime, end: datetime
) -> list[tuple[Any, ...]]:
    """Each building of these grids with its place, status and the orders delivered to it."""
    labels: dict[int, str] = {}
    for bid, label in (
        await session.execute(
            select(BuildingStatus.building_id, BuildingStatus.label)
            .join(Building, Building.id == BuildingStatus.building_id)
            .where(
                Building.grid_id.in_(grids),
                BuildingStatus.applied_at.is_not(None),
                BuildingStatus.effective_at == Building.status_since,
            )
            .order_by(BuildingStatus.id)
        )
    ).all():
        labels[bid] = label  # the last applied for the time it took effect
    delivered = dict(
        (
            await session.execute(
                select(Order.building_id, func.count())
                .where(
                    Order.grid_id.in_(grids),
                    Order.delivered_at >= start,
                    Order.delivered_at < end,
                )
                .group_by(Order.building_id)
            )
        ).all()
    )
    # And the group-buy shares delivered to its doors (or fetched at its point) in the days.
    doors = dict(
        (
            await session.execute(
                select(GroupBuyRun.building_id, func.count())
                .join(GroupBuyDoor, GroupBuyDoor.run_id == GroupBuyRun.id)
                .join(Building, Building.id == GroupBuyRun.building_id)
                .where(
                    Building.grid_id.in_(grids),
                    GroupBuyDoor.delivered_at >= start,
                    GroupBuyDoor.delivered_at < end,
                )
                .group_by(GroupBuyRun.building_id)
            )
        ).all()
    )
    rows = await session.execute(
        select(Building.id, Building.grid_id, Building.code, Place.name, Building.status_since)
        .outerjoin(Place, Place.id == Building.place_id)
        .where(Building.grid_id.in_(grids))
        .order_by(Building.grid_id, Building.id)
    )
    return [
        (
            bid,
            gid,
            code,
            place or "",
            labels.get(bid, ""),
            since,
            delivered.get(bid, 0),
            doors.get(bid, 0),
        )
        for bid, gid, code, place, since in rows.all()
    ]


async def _resident_names(session: AsyncSession, audit: list[tuple[Any, ...]]) -> dict[int, str]:
    """The names of the residents audit rows are about (``resident:1``, ``residents:1,2``)."""
    ids: set[int] = set()
    for row in audit:
        kind, _, key = str(row[3]).partition(":")
        if kind in ("resident", "residents"):
            ids.update(int(k) for k in key.split(",") if k.isdigit())
    if not ids:
        return {}
    rows = await session.execute(select(Resident.id, Resident.name).where(Resident.id.in_(ids)))
    return {rid: name for rid, name in rows.all()}


async def _resident_actors(session: AsyncSession, audit: list[tuple[Any, ...]]) -> dict[int, str]:
    """The names of the residents who acted in audit rows (``payment.paid``), by Telegram id."""
    ids = {row[1] for row in audit if row[1] is not None and str(row[2]).startswith("payment.")}
    if not ids:
        return {}
    rows = await session.execute(
        select(Resident.telegram_id, Resident.name).where(
            Resident.telegram_id.in_(ids), Resident.forgotten_at.is_(None)
        )
    )
    return {tid: name for tid, name in rows.all() if tid is not None}


async def _care(
    session: AsyncSession, grids: tuple[int, ...] | None, day_from: date, day_to: date
) -> tuple[list[tuple[Any, ...]], list[tuple[int, str]], list[tuple[Any, ...]]]:
    """The care list's households of these grids (None: every grid): those on it now and
    those asked in the days (taken off since); not those who asked to be forgotten. With their
    flags and their check-ins in the days."""
    checked = select(CareCheck.resident_id).where(
        CareCheck.day >= day_from, CareCheck.day <= day_to
    )
    flagged = select(ResidentCareFlag.resident_id)
    in_grids = () if grids is None else (Building.grid_id.in_(grids),)
    households = await _rows(
        session,
        select(
            Resident.id,
            Resident.name,
            Resident.phone,
            Building.grid_id,
            Resident.building_id,
            Resident.unit,
            Resident.room,
            Resident.responsible_telegram_id,
            Resident.isolation_until,
        )
        .join(Building, Building.id == Resident.building_id)
        .where(
            *in_grids,
            Resident.forgotten_at.is_(None),
            Resident.id.in_(flagged) | Resident.id.in_(checked),
        )
        .order_by(Resident.building_id, Resident.unit, Resident.room, Resident.id),
    )
    if not households:
        return [], [], []
    ids = [h[0] for h in households]
    flags = [
        (rid, str(flag))
        for rid, flag in (
            await session.execute(
                select(ResidentCareFlag.resident_id, ResidentCareFlag.flag)
                .where(ResidentCareFlag.resident_id.in_(ids))
                .order_by(ResidentCareFlag.id)
            )
        ).all()
    ]
    checks = await _rows(
        session,
        select(
            CareCheck.resident_id,
            CareCheck.day,
            CareCheck.answer,
            CareCheck.alerted_at,
        )
        .where(
            CareCheck.resident_id.in_(ids),
            CareCheck.day >= day_from,
            CareCheck.day <= day_to,
        )
        .order_by(CareCheck.resident_id, CareCheck.day),
    )
    return households, flags, checks


async def ledger_data(
    session: AsyncSession, scope: Scope, day_from: date, day_to: date, tz: str
) -> LedgerData:
    """Read what the ledger of a scope and local days shows (async; plain rows only)."""
    start, end = day_bounds(day_from, day_to, tz)
    grids = tuple(await grid_ids(session, scope))
    communities = dict((await session.execute(select(Community.id, Community.name))).all())
    all_grids = {
        gid: (name, cid)
        for gid, name, cid in (
            await session.execute(select(Grid.id, Grid.name, Grid.community_id))
        ).all()
    }
    # An admin's scope is every grid: then the orders and events are not filtered by grid.
    only_grids = None if set(all_grids) <= set(grids) else grids
    community_ids = await _community_ids(session, grids)
    notices = await _notices(session, scope, grids, community_ids, start, end)
    audit = await _audit(session, scope, grids, all_grids, community_ids, start, end)
    care, care_flags, care_checks = await _care(session, only_grids, day_from, day_to)
    return LedgerData(
        scope=scope,
        grid_ids=grids,
        start=start,
        end=end,
        tz=tz,
        day_from=day_from,
        day_to=day_to,
        communities=communities,
        grids=all_grids,
        staff_names=await _staff_names(session),
        volunteers=await _volunteers(session),
        orders=await _orders(session, only_grids, start, end),
        events=await _events(session, only_grids, start, end),
        notices=notices,
        deliveries=await _deliveries(session, notices),
        buildings=await _buildings(session),
        audit=audit,
        residents=await _resident_names(session, audit),
        resident_actors=await _resident_actors(session, audit),
        care=care,
        care_flags=care_flags,
        care_checks=care_checks,
        groupbuys=await groupbuy_data(session, grids, start, end),
        building_status=await _building_status(session, grids, start, end),
    )
