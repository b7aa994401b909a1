"""What the ledger is made of, read from the database as plain tuples (`LedgerData`), so the
sheets can be built in a worker thread, away from the event loop and from any session. The
rows are those of one scope (bot.services.scope) over some local days; one reading function
per kind of row."""

from __future__ import annotations

import asyncio
from dataclasses import dataclass
from datetime import date, datetime
from typing import Any

from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession

from bot.services.reports.days import day_bounds
from bot.services.scope import Scope, grid_ids
from models import (
    AuditEntry,
    Building,
    Community,
    Compound,
    Grid,
    Notice,
    NoticeDelivery,
    Order,
    OrderEvent,
    OutboxMessage,
    Resident,
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
    communities: dict[int, str]
    grids: dict[int, tuple[str, int]]  # id -> (name, community id)
    staff_names: dict[int, str]
    # id, telegram id, name, phone, grid id, status, on duty since, created, decided by/at
    volunteers: list[tuple[Any, ...]]
    orders: list[tuple[Any, ...]]
    events: list[tuple[Any, ...]]
    notices: list[tuple[Any, ...]]
    deliveries: list[tuple[Any, ...]]
    buildings: dict[int, str]
    audit: list[tuple[Any, ...]]


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
        aq = aq.where(AuditEntry.actor_telegram_id.in_(own))
    return await _rows(session, aq.order_by(AuditEntry.id))


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
    return LedgerData(
        scope=scope,
        grid_ids=grids,
        start=start,
        end=end,
        tz=tz,
        communities=communities,
        grids=all_grids,
        staff_names=await _staff_names(session),
        volunteers=await _volunteers(session),
        orders=await _orders(session, only_grids, start, end),
        events=await _events(session, only_grids, start, end),
        notices=notices,
        deliveries=await _deliveries(session, notices),
        buildings=dict((await session.execute(select(Building.id, Building.name))).all()),
        audit=await _audit(session, scope, grids, all_grids, community_ids, start, end),
    )
