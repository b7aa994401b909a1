"""What is going on, and the ledger (台账): /stats, the daily summary to staff, and the export.

No Telegram types. Days are local days in the configured time zone; times are stored in UTC.
`stats` counts the orders created in the days asked for (by status now, by kind, per grid),
what each volunteer claimed and delivered in those days (from the order events, so a task
released and taken by someone else counts for both), the median minutes from created to
claimed and from claimed to delivered, and the open tasks unclaimed longer than
`reports.unclaimed_minutes` right now. The export writes the same period as an XLSX workbook
with Chinese headings (and the orders as CSV).
"""

from __future__ import annotations

import asyncio
import csv
import io
import json
import logging
import statistics
from collections import Counter
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field
from datetime import UTC, date, datetime, time, timedelta
from typing import Any
from zoneinfo import ZoneInfo

from sqlalchemy import select
from sqlalchemy.exc import IntegrityError
from sqlalchemy.ext.asyncio import AsyncSession

from bot import outbox
from bot.clock import clock_time
from bot.errors import Refused
from bot.i18n import N_, Gettext, gettext_for
from bot.runtime import Runtime
from bot.services.orders import texts
from bot.services.people import grids_in_scope, languages_of
from models import (
    AuditEntry,
    Building,
    Community,
    Compound,
    DailyRun,
    Grid,
    Notice,
    NoticeDelivery,
    Order,
    OrderEvent,
    OrderStatus,
    OutboxMessage,
    Resident,
    Staff,
    StaffRole,
    Volunteer,
)

logger = logging.getLogger(__name__)

SUMMARY_KIND = "staff_summary"
MAX_DAYS = 366

BAD_DATES = N_(
    "I could not read those dates. Send one day or a range, as YYYY-MM-DD, the first not after "
    "the second, at most 366 days:\n{command}\n{command} 2026-11-23\n"
    "{command} 2026-11-01 2026-11-23"
)
NOT_STAFF = N_("This is for community staff only.")


# --- days and scope ----------------------------------------------------------------------------


def day_bounds(day_from: date, day_to: date, tz: str) -> tuple[datetime, datetime]:
    """The UTC instants from the start of `day_from` to the end of `day_to`, local days."""
    zone = ZoneInfo(tz)
    start = datetime.combine(day_from, time(0), zone).astimezone(UTC)
    end = datetime.combine(day_to + timedelta(days=1), time(0), zone).astimezone(UTC)
    return start, end


def parse_days(args: Sequence[str], today: date, command: str = "/stats") -> tuple[date, date]:
    """No argument: today; one: that day; two: that range. Refused (BAD_DATES) otherwise."""
    if len(args) > 2:
        raise Refused(BAD_DATES, command=command)
    try:
        days = [date.fromisoformat(a.strip()) for a in args]
    except ValueError as exc:
        raise Refused(BAD_DATES, command=command) from exc
    if not days:
        return today, today
    return check_days(days[0], days[-1], command)


def check_days(first: date, last: date, command: str = "/stats") -> tuple[date, date]:
    """The range from `first` to `last`; Refused (BAD_DATES) if `first` is after `last` or the
    range is longer than MAX_DAYS days."""
    if last < first or (last - first).days >= MAX_DAYS:
        raise Refused(BAD_DATES, command=command)
    return first, last


def preset(name: str, today: date) -> tuple[date, date] | None:
    """The buttons' ranges: today, yesterday, the last 7 days (today included)."""
    if name == "today":
        return today, today
    if name == "yesterday":
        y = today - timedelta(days=1)
        return y, y
    if name == "7d":
        return today - timedelta(days=6), today
    return None


@dataclass(frozen=True)
class Scope:
    """What a report covers: some grids, or everything (admins, the command line)."""

    grid_ids: tuple[int, ...]
    everything: bool = False


async def scope_of(session: AsyncSession, telegram_id: int) -> Scope | None:
    """A staff member's scope (admins: everything); None for anyone else."""
    roles = set(await session.scalars(select(Staff.role).where(Staff.telegram_id == telegram_id)))
    if not roles:
        return None
    grids = await grids_in_scope(session, telegram_id)
    return Scope(tuple(g for g, _ in grids), everything=StaffRole.ADMIN in roles)


async def require_scope(session: AsyncSession, telegram_id: int) -> Scope:
    """A staff member's scope; Refused (NOT_STAFF) for anyone else."""
    scope = await scope_of(session, telegram_id)
    if scope is None:
        raise Refused(NOT_STAFF)
    return scope


async def scope_for_community(session: AsyncSession, code: str | None) -> Scope:
    """The command line: one community by its code, or everything."""
    if code is None:
        grids = await session.scalars(select(Grid.id).order_by(Grid.id))
        return Scope(tuple(grids), everything=True)
    community = await session.scalar(select(Community).where(Community.code == code))
    if community is None:
        raise Refused(N_("There is no community {code}."), code=code)
    grids = await session.scalars(
        select(Grid.id).where(Grid.community_id == community.id).order_by(Grid.id)
    )
    return Scope(tuple(grids))


# --- /stats ------------------------------------------------------------------------------------


@dataclass(frozen=True)
class GridLine:
    grid_id: int
    name: str
    created: int
    delivered: int
    open_now: int


@dataclass(frozen=True)
class VolunteerLine:
    volunteer_id: int
    name: str
    grid: str
    claimed: int
    delivered: int


@dataclass(frozen=True)
class Waiting:
    order_id: int
    grid: str
    category: str
    urgency: str
    minutes: int


@dataclass(frozen=True)
class Stats:
    day_from: date
    day_to: date
    created: int
    by_status: dict[str, int]
    by_category: dict[str, int]
    grids: list[GridLine]
    volunteers: list[VolunteerLine]
    median_claim_minutes: float | None
    median_deliver_minutes: float | None
    unclaimed_minutes: int
    unclaimed: list[Waiting] = field(default_factory=list)


def _minutes(a: datetime, b: datetime) -> float:
    return (b - a).total_seconds() / 60


def _median(values: list[float]) -> float | None:
    return round(statistics.median(values), 1) if values else None


async def stats(
    session: AsyncSession,
    grid_ids: Iterable[int],
    day_from: date,
    day_to: date,
    now: datetime,
    *,
    tz: str = "Asia/Shanghai",
    unclaimed_minutes: int = 30,
) -> Stats:
    grid_ids = tuple(grid_ids)
    start, end = day_bounds(day_from, day_to, tz)
    grids = (
        await session.scalars(select(Grid).where(Grid.id.in_(grid_ids)).order_by(Grid.id))
    ).all()
    grid_name = {g.id: g.name for g in grids}
    orders = (
        await session.scalars(
            select(Order)
            .where(Order.grid_id.in_(grid_ids), Order.created_at >= start, Order.created_at < end)
            .order_by(Order.id)
        )
    ).all()
    by_status = Counter(str(o.status) for o in orders)
    by_category = Counter(o.category for o in orders)
    claim_times = [_minutes(o.created_at, o.claimed_at) for o in orders if o.claimed_at]
    deliver_times = [
        _minutes(o.claimed_at, o.delivered_at) for o in orders if o.claimed_at and o.delivered_at
    ]
    open_orders = (
        await session.scalars(
            select(Order)
            .where(Order.grid_id.in_(grid_ids), Order.status == OrderStatus.OPEN)
            .order_by(Order.created_at, Order.id)
        )
    ).all()
    grid_lines = [
        GridLine(
            grid_id=g.id,
            name=g.name,
            created=sum(1 for o in orders if o.grid_id == g.id),
            delivered=sum(1 for o in orders if o.grid_id == g.id and o.delivered_at is not None),
            open_now=sum(1 for o in open_orders if o.grid_id == g.id),
        )
        for g in grids
    ]
    # What each volunteer did in these days, from the events (claims and deliveries).
    events = (
        await session.execute(
            select(OrderEvent.actor_telegram_id, OrderEvent.to_status)
            .join(Order, Order.id == OrderEvent.order_id)
            .where(
                Order.grid_id.in_(grid_ids),
                OrderEvent.at >= start,
                OrderEvent.at < end,
                OrderEvent.to_status.in_((OrderStatus.CLAIMED, OrderStatus.DELIVERED)),
                OrderEvent.actor_telegram_id.is_not(None),
            )
        )
    ).all()
    claimed = Counter(t for t, s in events if s == OrderStatus.CLAIMED)
    delivered = Counter(t for t, s in events if s == OrderStatus.DELIVERED)
    people = set(claimed) | set(delivered)
    vols = (
        (
            await session.scalars(
                select(Volunteer).where(Volunteer.telegram_id.in_(people)).order_by(Volunteer.id)
            )
        ).all()
        if people
        else []
    )
    all_grid_names = (
        dict(
            (
                await session.execute(
                    select(Grid.id, Grid.name).where(Grid.id.in_({v.grid_id for v in vols}))
                )
            ).all()
        )
        if vols
        else {}
    )
    vol_lines = sorted(
        (
            VolunteerLine(
                volunteer_id=v.id,
                name=v.name,
                grid=all_grid_names.get(v.grid_id, ""),
                claimed=claimed[v.telegram_id],
                delivered=delivered[v.telegram_id],
            )
            for v in vols
        ),
        key=lambda line: (-line.delivered, -line.claimed, line.volunteer_id),
    )
    waiting = [
        Waiting(
            order_id=o.id,
            grid=grid_name.get(o.grid_id, ""),
            category=o.category,
            urgency=str(o.urgency),
            minutes=int(_minutes(o.created_at, now)),
        )
        for o in open_orders
        if _minutes(o.created_at, now) > unclaimed_minutes
    ]
    return Stats(
        day_from=day_from,
        day_to=day_to,
        created=len(orders),
        by_status=dict(by_status),
        by_category=dict(by_category),
        grids=grid_lines,
        volunteers=vol_lines,
        median_claim_minutes=_median(claim_times),
        median_deliver_minutes=_median(deliver_times),
        unclaimed_minutes=unclaimed_minutes,
        unclaimed=waiting,
    )


def _period(s: Stats) -> str:
    if s.day_from == s.day_to:
        return s.day_from.isoformat()
    return f"{s.day_from.isoformat()} – {s.day_to.isoformat()}"


def _fmt_minutes(value: float | None, _: Gettext) -> str:
    if value is None:
        return "–"
    return _("{n} min").format(n=f"{value:g}")


def render_stats(s: Stats, _: Gettext) -> str:
    lines = [_("📊 Orders {period}: {n}").format(period=_period(s), n=s.created)]
    if s.created:
        lines.append(
            " · ".join(
                f"{_(texts.STATUS.get(k, k))} {n}"
                for k, n in sorted(
                    s.by_status.items(),
                    key=lambda kv: list(texts.STATUS).index(kv[0]) if kv[0] in texts.STATUS else 99,
                )
            )
        )
        lines.append(
            " · ".join(
                f"{texts.CATEGORY_ICON.get(k, '')}{_(texts.CATEGORY.get(k, k))} {n}"
                for k, n in sorted(s.by_category.items())
            )
        )
    lines.append(
        _("⏱ Median time to claim: {claim}; claim to delivery: {deliver}").format(
            claim=_fmt_minutes(s.median_claim_minutes, _),
            deliver=_fmt_minutes(s.median_deliver_minutes, _),
        )
    )
    if s.grids:
        lines.append("")
        lines.append(_("Per grid (ordered / delivered / open now):"))
        lines.extend(f"• {g.name}: {g.created} / {g.delivered} / {g.open_now}" for g in s.grids)
    if s.volunteers:
        lines.append("")
        lines.append(_("Per volunteer (claimed / delivered):"))
        lines.extend(f"• {v.name} ({v.grid}): {v.claimed} / {v.delivered}" for v in s.volunteers)
    lines.append("")
    if s.unclaimed:
        lines.append(_("⚠️ Unclaimed for more than {n} minutes:").format(n=s.unclaimed_minutes))
        lines.extend(
            _("• #{id} {grid} {kind}, {urgency}: {minutes} min").format(
                id=w.order_id,
                grid=w.grid,
                kind=_(texts.CATEGORY.get(w.category, w.category)),
                urgency=_(texts.URGENCY.get(w.urgency, w.urgency)),
                minutes=w.minutes,
            )
            for w in s.unclaimed
        )
    else:
        lines.append(
            _("✅ Nothing unclaimed for more than {n} minutes.").format(n=s.unclaimed_minutes)
        )
    return "\n".join(lines)


async def stats_for(
    rt: Runtime, session: AsyncSession, grid_ids: Iterable[int], day_from: date, day_to: date
) -> Stats:
    return await stats(
        session,
        grid_ids,
        day_from,
        day_to,
        rt.clock.now(),
        tz=rt.timezone,
        unclaimed_minutes=rt.settings.reports.unclaimed_minutes,
    )


# --- the daily summary -------------------------------------------------------------------------

SUMMARY_TITLE = N_("🗓 Daily summary")


async def summary_due(rt: Runtime) -> int:
    """At `reports.daily_summary_at` (local), each staff member gets the day's stats for their
    scope, once a day: the DailyRun row is inserted in the same transaction as the messages, so
    a second sweep or a restart sends nothing twice. Returns how many were written."""
    at = rt.settings.reports.daily_summary_at
    if not at:
        return 0
    now = rt.clock.now()
    local = now.astimezone(ZoneInfo(rt.timezone))
    if local.time() < clock_time(at):
        return 0
    today = local.date()
    async with rt.db.session() as session:
        done = await session.scalar(
            select(DailyRun.id).where(
                DailyRun.kind == SUMMARY_KIND, DailyRun.day == today, DailyRun.scope == ""
            )
        )
        if done is not None:
            return 0
        try:
            async with session.begin_nested():
                session.add(DailyRun(kind=SUMMARY_KIND, day=today, scope="", at=now))
        except IntegrityError:  # another instance sent it
            return 0
        staff_ids = list(
            dict.fromkeys(await session.scalars(select(Staff.telegram_id).order_by(Staff.id)))
        )
        langs = await languages_of(session, staff_ids, rt.default_language)
        sent = 0
        for tid in staff_ids:
            grids = [g for g, _ in await grids_in_scope(session, tid)]
            if not grids:
                continue
            s = await stats_for(rt, session, grids, today, today)
            _ = gettext_for(langs[tid])
            outbox.enqueue(
                session,
                rt.clock,
                chat_id=tid,
                text=_(SUMMARY_TITLE) + "\n" + render_stats(s, _),
                priority=5,
            )
            sent += 1
    return sent


# --- the ledger (台账) -------------------------------------------------------------------------

ZH = gettext_for("zh_CN")

ACTIONS = {
    "staff.added": "添加工作人员",
    "staff.removed": "移除工作人员",
    "group.bound": "绑定网格群",
    "notice.sent": "发送通知",
    "report.exported": "导出台账",
}
ACTORS = {"resident": "居民", "volunteer": "志愿者", "staff": "工作人员", "system": "系统"}
VOLUNTEER_STATUS = {
    "pending": "待审核",
    "approved": "已通过",
    "rejected": "未通过",
    "suspended": "已停用",
}
AUDIENCE = {
    "community": "全社区",
    "grid": "网格",
    "building": "楼栋",
    "care": "关爱对象",
    "volunteers": "志愿者",
    "everyone": "所有人",
}


@dataclass(frozen=True)
class Sheet:
    title: str
    headings: tuple[str, ...]
    rows: list[tuple[Any, ...]]


def _local(value: datetime | None, tz: str) -> datetime | None:
    """A local wall-clock time without tzinfo (what a spreadsheet cell holds)."""
    if value is None:
        return None
    return value.astimezone(ZoneInfo(tz)).replace(tzinfo=None, microsecond=0)


def _yuan(fen: int | None) -> float | None:
    return None if fen is None else fen / 100


def _label(table: dict[str, str], key: str | None) -> str:
    if key is None:
        return ""
    msgid = table.get(key)
    return ZH(msgid) if msgid else key


ORDER_HEADINGS = (
    "订单编号",
    "社区",
    "网格",
    "小区",
    "楼栋",
    "单元",
    "房号",
    "联系人",
    "联系电话",
    "类型",
    "需求",
    "紧急程度",
    "状态",
    "志愿者",
    "志愿者电话",
    "花费(元)",
    "下单时间",
    "接单时间",
    "送达时间",
    "结束时间",
    "评分",
    "原因",
)


async def _community_ids(session: AsyncSession, scope: Scope) -> set[int]:
    if not scope.grid_ids:
        return set()
    return set(
        await session.scalars(
            select(Grid.community_id).where(Grid.id.in_(scope.grid_ids)).distinct()
        )
    )


# Rows are read in partitions of this size: between two, the event loop serves other updates
# (a whole 20,000-order result turned into Python values at once would stall it for seconds).
READ_CHUNK = 500


async def _rows(session: AsyncSession, stmt: Any) -> list[tuple[Any, ...]]:
    """The plain rows (tuples, no ORM objects) of a column query, read in partitions."""
    out: list[tuple[Any, ...]] = []
    result = await session.stream(stmt.execution_options(yield_per=READ_CHUNK))
    async for part in result.partitions(READ_CHUNK):
        out.extend(tuple(r) for r in part)
        await asyncio.sleep(0)
    return out


@dataclass(frozen=True)
class LedgerData:
    """What the ledger is made of, read from the database as plain tuples, so the sheets can
    be built in a worker thread, away from the event loop and from any session."""

    scope: Scope
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


async def ledger_data(
    session: AsyncSession, scope: Scope, day_from: date, day_to: date, tz: str
) -> LedgerData:
    """Read what the ledger of a scope and local days shows (async; plain rows only)."""
    start, end = day_bounds(day_from, day_to, tz)
    grid_ids = scope.grid_ids
    communities = dict((await session.execute(select(Community.id, Community.name))).all())
    grids = {
        gid: (name, cid)
        for gid, name, cid in (
            await session.execute(select(Grid.id, Grid.name, Grid.community_id))
        ).all()
    }
    staff_names: dict[int, str] = {}
    for tid, name in (
        await session.execute(select(Staff.telegram_id, Staff.name).order_by(Staff.id))
    ).all():
        staff_names.setdefault(tid, name)
    volunteers = await _rows(
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
    orders = await _rows(
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
        )
        .join(Building, Building.id == Order.building_id)
        .join(Compound, Compound.id == Building.compound_id)
        .where(Order.grid_id.in_(grid_ids), Order.created_at >= start, Order.created_at < end)
        .order_by(Order.id),
    )
    events = await _rows(
        session,
        select(
            OrderEvent.order_id,
            OrderEvent.at,
            OrderEvent.actor,
            OrderEvent.actor_telegram_id,
            OrderEvent.from_status,
            OrderEvent.to_status,
            OrderEvent.note,
        )
        .join(Order, Order.id == OrderEvent.order_id)
        .where(Order.grid_id.in_(grid_ids), OrderEvent.at >= start, OrderEvent.at < end)
        .order_by(OrderEvent.id),
    )

    community_ids = await _community_ids(session, scope)
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
    if not scope.everything:
        nq = nq.where(
            Notice.grid_id.in_(grid_ids)
            | (Notice.grid_id.is_(None) & Notice.community_id.in_(community_ids))
        )
    notices = await _rows(session, nq.order_by(Notice.id))
    deliveries = (
        await _rows(
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
        if notices
        else []
    )
    buildings = dict((await session.execute(select(Building.id, Building.name))).all())

    aq = select(
        AuditEntry.at,
        AuditEntry.actor_telegram_id,
        AuditEntry.action,
        AuditEntry.target,
        AuditEntry.details,
    ).where(AuditEntry.at >= start, AuditEntry.at < end)
    if not scope.everything:
        # The audit log has no community: a scope's rows are those of the staff acting within
        # it (its grid leaders, and the staff of a community whose every grid it covers).
        whole = {
            cid
            for cid in community_ids
            if {g for g, (_, c) in grids.items() if c == cid} <= set(grid_ids)
        }
        own = set(
            await session.scalars(
                select(Staff.telegram_id).where(
                    Staff.community_id.in_(whole) | Staff.grid_id.in_(grid_ids)
                )
            )
        )
        aq = aq.where(AuditEntry.actor_telegram_id.in_(own))
    audit_rows = await _rows(session, aq.order_by(AuditEntry.id))
    return LedgerData(
        scope=scope,
        start=start,
        end=end,
        tz=tz,
        communities=communities,
        grids=grids,
        staff_names=staff_names,
        volunteers=volunteers,
        orders=orders,
        events=events,
        notices=notices,
        deliveries=deliveries,
        buildings=buildings,
        audit=audit_rows,
    )


def build_sheets(data: LedgerData) -> list[Sheet]:
    """The ledger's sheets from what was read; each row a plain value per heading. Pure
    (no session): the export calls it in a worker thread."""
    tz = data.tz
    grid_ids = data.scope.grid_ids
    communities, grids, staff_names = data.communities, data.grids, data.staff_names
    vols = {v[0]: v for v in data.volunteers}
    vols_by_tid = {v[1]: v for v in data.volunteers}

    def who(tid: int | None) -> str:
        if tid is None:
            return "命令行"
        if tid in staff_names:
            return staff_names[tid]
        if tid in vols_by_tid:
            return vols_by_tid[tid][2]
        return ""

    def grid_name(gid: int | None) -> str:
        return grids[gid][0] if gid in grids else ""

    order_rows = []
    for (
        oid,
        community_id,
        grid_id,
        compound,
        building,
        unit,
        room,
        contact_name,
        contact_phone,
        category,
        description,
        urgency,
        status,
        volunteer_id,
        fen,
        created_at,
        claimed_at,
        delivered_at,
        closed_at,
        rating,
        reason,
    ) in data.orders:
        v = vols.get(volunteer_id) if volunteer_id else None
        order_rows.append(
            (
                oid,
                communities.get(community_id, ""),
                grid_name(grid_id),
                compound,
                building,
                unit,
                room,
                contact_name,
                contact_phone,
                _label(texts.CATEGORY, category),
                description,
                _label(texts.URGENCY, str(urgency)),
                _label(texts.STATUS, str(status)),
                v[2] if v else "",
                (v[3] or "") if v else "",
                _yuan(fen),
                _local(created_at, tz),
                _local(claimed_at, tz),
                _local(delivered_at, tz),
                _local(closed_at, tz),
                rating,
                reason or "",
            )
        )

    event_rows = [
        (
            order_id,
            _local(at, tz),
            ACTORS.get(actor, actor),
            who(actor_tid),
            actor_tid,
            _label(texts.STATUS, from_status),
            _label(texts.STATUS, to_status),
            note or "",
        )
        for order_id, at, actor, actor_tid, from_status, to_status, note in data.events
    ]

    in_range: dict[str, Counter[int]] = {"claimed": Counter(), "delivered": Counter()}
    for e in data.events:
        actor_tid, to_status = e[3], e[5]
        if actor_tid in vols_by_tid and to_status in in_range:
            in_range[to_status][vols_by_tid[actor_tid][0]] += 1
    volunteer_rows = [
        (
            vid,
            name,
            phone or "",
            grid_name(grid_id),
            VOLUNTEER_STATUS.get(str(status), str(status)),
            "是" if on_duty_since else "否",
            _local(created_at, tz),
            who(decided_by) if decided_by else "",
            _local(decided_at, tz),
            in_range["claimed"][vid],
            in_range["delivered"][vid],
        )
        for (
            vid,
            _tid,
            name,
            phone,
            grid_id,
            status,
            on_duty_since,
            created_at,
            decided_by,
            decided_at,
        ) in data.volunteers
        if grid_id in grid_ids
    ]

    per_notice: dict[int, list[tuple[Any, ...]]] = {}
    for row in data.deliveries:
        per_notice.setdefault(row[0], []).append(row)
    notice_rows = []
    for (
        nid,
        community_id,
        grid_id,
        audience,
        text,
        author,
        created_at,
        send_at,
        sent_at,
        cancelled_at,
    ) in data.notices:
        ds = per_notice.get(nid, [])
        notice_rows.append(
            (
                nid,
                communities.get(community_id, "") if community_id else "全部",
                grid_name(grid_id),
                AUDIENCE.get(audience, audience),
                text,
                who(author),
                _local(created_at, tz),
                _local(send_at, tz),
                _local(sent_at, tz),
                _local(cancelled_at, tz),
                len(ds),
                sum(1 for d in ds if d[4] == "sent"),
                sum(1 for d in ds if d[6] is not None),
            )
        )
    receipt_rows = [
        (
            notice_id,
            chat_id,
            resident or "",
            data.buildings.get(building_id, "") if building_id else "",
            "已发送" if status == "sent" else "发送失败" if status == "failed" else "待发送",
            _local(sent_at, tz),
            _local(confirmed_at, tz),
            resent,
        )
        for (
            notice_id,
            chat_id,
            resident,
            building_id,
            status,
            sent_at,
            confirmed_at,
            resent,
        ) in data.deliveries
    ]
    audit_rows = [
        (
            _local(at, tz),
            who(actor_tid),
            actor_tid,
            ACTIONS.get(action, action),
            action,
            target,
            json.dumps(details, ensure_ascii=False) if details else "",
        )
        for at, actor_tid, action, target, details in data.audit
    ]
    return [
        Sheet("订单", ORDER_HEADINGS, order_rows),
        Sheet(
            "订单记录",
            ("订单编号", "时间", "操作方", "操作人", "Telegram ID", "原状态", "新状态", "备注"),
            event_rows,
        ),
        Sheet(
            "志愿者",
            (
                "编号",
                "姓名",
                "电话",
                "网格",
                "审核状态",
                "在岗",
                "报名时间",
                "审核人",
                "审核时间",
                "期间接单",
                "期间送达",
            ),
            volunteer_rows,
        ),
        Sheet(
            "通知",
            (
                "通知编号",
                "社区",
                "网格",
                "对象",
                "内容",
                "发送人",
                "创建时间",
                "计划发送",
                "发送时间",
                "撤销时间",
                "接收人数",
                "已送达",
                "已确认",
            ),
            notice_rows,
        ),
        Sheet(
            "通知回执",
            ("通知编号", "聊天ID", "居民", "楼栋", "发送状态", "送达时间", "确认时间", "补发次数"),
            receipt_rows,
        ),
        Sheet(
            "操作记录",
            ("时间", "操作人", "Telegram ID", "操作", "操作代码", "对象", "详情"),
            audit_rows,
        ),
    ]


async def ledger(
    session: AsyncSession, scope: Scope, day_from: date, day_to: date, tz: str
) -> list[Sheet]:
    """The ledger's sheets for a scope and local days (built here: the command line and the
    tests; the bot's export builds them in a thread, see `export`)."""
    return build_sheets(await ledger_data(session, scope, day_from, day_to, tz))


@dataclass(frozen=True)
class Export:
    xlsx: bytes
    csv: bytes
    orders: int


def export_files(data: LedgerData) -> Export:
    """The workbook and the orders' CSV, built from what was read. CPU-bound and pure: run it
    in a worker thread (`export`)."""
    sheets = build_sheets(data)
    return Export(workbook_bytes(sheets), csv_bytes(sheets[0]), len(sheets[0].rows))


async def export(
    session: AsyncSession, scope: Scope, day_from: date, day_to: date, tz: str
) -> Export:
    """The ledger's files for a scope and local days: the rows are read here (async, in
    partitions), the workbook is built in a worker thread, so the bot keeps answering
    everyone else meanwhile (openpyxl takes tens of seconds for 20,000 orders)."""
    data = await ledger_data(session, scope, day_from, day_to, tz)
    return await asyncio.to_thread(export_files, data)


# --- formula injection ---------------------------------------------------------------------------

# A spreadsheet reads a text cell that begins with one of these as a formula (=HYPERLINK(...)
# opens a link, DDE runs a program): OWASP "CSV Injection".
FORMULA_START = ("=", "+", "-", "@", "\t", "\r")


def neutralise(text: str) -> str:
    """Text that a spreadsheet could read as a formula, prefixed with a single quote (OWASP):
    shown literally, never evaluated. Only text: numbers (an amount of -3.5) stay numbers."""
    return "'" + text if text.startswith(FORMULA_START) else text


def _xlsx_text(text: str) -> str:
    # Control characters XML cannot hold (openpyxl refuses the whole workbook): dropped.
    from openpyxl.cell.cell import ILLEGAL_CHARACTERS_RE

    return neutralise(ILLEGAL_CHARACTERS_RE.sub("", text))


def _xlsx_cell(ws: Any, value: Any, is_money: bool) -> Any:
    """A value as a write-only cell: text always a string cell (never a formula), local times
    and yuan formatted; anything else as it is (openpyxl types it)."""
    from openpyxl.cell import WriteOnlyCell

    if isinstance(value, str):
        text = _xlsx_text(value)
        if text == value and not text.startswith("#"):
            return text  # plain text: openpyxl types it as a string itself
        # Neutralised, or "#N/A"-like (openpyxl would make an error cell of it).
        cell = WriteOnlyCell(ws, value=text)
        cell.data_type = "s"
        return cell
    if isinstance(value, datetime):
        cell = WriteOnlyCell(ws, value=value)
        cell.number_format = "yyyy-mm-dd hh:mm"
        return cell
    if is_money and value is not None:
        cell = WriteOnlyCell(ws, value=value)
        cell.number_format = "0.00"
        return cell
    return value


def workbook_bytes(sheets: list[Sheet]) -> bytes:
    """The ledger as an XLSX workbook: one sheet each for orders, order events, volunteers,
    notices, notice receipts and the audit log; Chinese headings, local times, yuan.

    Write-only mode (rows streamed, no cell objects kept), and every text is a string cell:
    a name like `=HYPERLINK(...)` is neutralised and written as text, never as a formula."""
    from openpyxl import Workbook
    from openpyxl.cell import WriteOnlyCell
    from openpyxl.styles import Font
    from openpyxl.utils import get_column_letter

    wb = Workbook(write_only=True)
    bold = Font(bold=True)
    for sheet in sheets:
        ws = wb.create_sheet(sheet.title)
        # Column widths and the frozen heading must be set before the first row.
        for col, heading in enumerate(sheet.headings, start=1):
            ws.column_dimensions[get_column_letter(col)].width = max(10, len(heading) * 2 + 2)
        ws.freeze_panes = "A2"
        head = []
        for heading in sheet.headings:
            cell = WriteOnlyCell(ws, value=heading)
            cell.font = bold
            head.append(cell)
        ws.append(head)
        money = [heading.endswith("(元)") for heading in sheet.headings]

        for row in sheet.rows:
            ws.append([_xlsx_cell(ws, v, money[i]) for i, v in enumerate(row)])
    out = io.BytesIO()
    wb.save(out)
    return out.getvalue()


def _csv_value(value: Any) -> str:
    if value is None:
        return ""
    if isinstance(value, datetime):
        return value.strftime("%Y-%m-%d %H:%M")
    if isinstance(value, float):
        return f"{value:.2f}"
    if isinstance(value, str):
        return neutralise(value)
    return str(value)


def csv_bytes(sheet: Sheet) -> bytes:
    """A sheet (the exports: the orders) as CSV, UTF-8 with a BOM so that Excel shows the
    Chinese. Text that Excel would read as a formula is neutralised (see `neutralise`)."""
    buf = io.StringIO()
    w = csv.writer(buf)
    w.writerow(sheet.headings)
    for row in sheet.rows:
        w.writerow([_csv_value(v) for v in row])
    return ("\ufeff" + buf.getvalue()).encode("utf-8")


def file_name(day_from: date, day_to: date, ext: str) -> str:
    days = day_from.isoformat() if day_from == day_to else f"{day_from}_{day_to}"
    return f"台账_{days}.{ext}"
