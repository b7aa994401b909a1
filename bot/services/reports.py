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
from bot.services import notify
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
                f"{_(notify.STATUS.get(k, k))} {n}"
                for k, n in sorted(
                    s.by_status.items(),
                    key=lambda kv: (
                        list(notify.STATUS).index(kv[0]) if kv[0] in notify.STATUS else 99
                    ),
                )
            )
        )
        lines.append(
            " · ".join(
                f"{notify.CATEGORY_ICON.get(k, '')}{_(notify.CATEGORY.get(k, k))} {n}"
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
                kind=_(notify.CATEGORY.get(w.category, w.category)),
                urgency=_(notify.URGENCY.get(w.urgency, w.urgency)),
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


async def ledger(
    session: AsyncSession, scope: Scope, day_from: date, day_to: date, tz: str
) -> list[Sheet]:
    """The ledger's sheets for a scope and local days; each row a plain value per heading."""
    start, end = day_bounds(day_from, day_to, tz)
    grid_ids = scope.grid_ids
    communities = {c.id: c.name for c in await session.scalars(select(Community))}
    grids = {g.id: g for g in await session.scalars(select(Grid))}
    vols = {v.id: v for v in await session.scalars(select(Volunteer).order_by(Volunteer.id))}
    vols_by_tid = {v.telegram_id: v for v in vols.values()}
    staff_names: dict[int, str] = {}
    for st in await session.scalars(select(Staff).order_by(Staff.id)):
        staff_names.setdefault(st.telegram_id, st.name)

    def who(tid: int | None) -> str:
        if tid is None:
            return "命令行"
        if tid in staff_names:
            return staff_names[tid]
        if tid in vols_by_tid:
            return vols_by_tid[tid].name
        return ""

    rows = (
        await session.execute(
            select(Order, Building.name, Compound.name)
            .join(Building, Building.id == Order.building_id)
            .join(Compound, Compound.id == Building.compound_id)
            .where(Order.grid_id.in_(grid_ids), Order.created_at >= start, Order.created_at < end)
            .order_by(Order.id)
        )
    ).all()
    order_rows = []
    for o, building, compound in rows:
        v = vols.get(o.volunteer_id) if o.volunteer_id else None
        order_rows.append(
            (
                o.id,
                communities.get(o.community_id, ""),
                grids[o.grid_id].name if o.grid_id in grids else "",
                compound,
                building,
                o.unit,
                o.room,
                o.contact_name,
                o.contact_phone,
                _label(notify.CATEGORY, o.category),
                o.description,
                _label(notify.URGENCY, str(o.urgency)),
                _label(notify.STATUS, str(o.status)),
                v.name if v else "",
                (v.phone or "") if v else "",
                _yuan(o.amount_spent_fen),
                _local(o.created_at, tz),
                _local(o.claimed_at, tz),
                _local(o.delivered_at, tz),
                _local(o.closed_at, tz),
                o.rating,
                o.reason or "",
            )
        )

    events = (
        await session.scalars(
            select(OrderEvent)
            .join(Order, Order.id == OrderEvent.order_id)
            .where(Order.grid_id.in_(grid_ids), OrderEvent.at >= start, OrderEvent.at < end)
            .order_by(OrderEvent.id)
        )
    ).all()
    event_rows = [
        (
            e.order_id,
            _local(e.at, tz),
            ACTORS.get(e.actor, e.actor),
            who(e.actor_telegram_id),
            e.actor_telegram_id,
            _label(notify.STATUS, e.from_status),
            _label(notify.STATUS, e.to_status),
            e.note or "",
        )
        for e in events
    ]

    in_range: dict[str, Counter[int]] = {"claimed": Counter(), "delivered": Counter()}
    for e in events:
        if e.actor_telegram_id in vols_by_tid and e.to_status in in_range:
            in_range[e.to_status][vols_by_tid[e.actor_telegram_id].id] += 1
    volunteer_rows = [
        (
            v.id,
            v.name,
            v.phone or "",
            grids[v.grid_id].name if v.grid_id in grids else "",
            VOLUNTEER_STATUS.get(str(v.status), str(v.status)),
            "是" if v.on_duty_since else "否",
            _local(v.created_at, tz),
            who(v.decided_by) if v.decided_by else "",
            _local(v.decided_at, tz),
            in_range["claimed"][v.id],
            in_range["delivered"][v.id],
        )
        for v in vols.values()
        if v.grid_id in grid_ids
    ]

    community_ids = await _community_ids(session, scope)
    nq = select(Notice).where(Notice.created_at >= start, Notice.created_at < end)
    if not scope.everything:
        nq = nq.where(
            Notice.grid_id.in_(grid_ids)
            | (Notice.grid_id.is_(None) & Notice.community_id.in_(community_ids))
        )
    notices = (await session.scalars(nq.order_by(Notice.id))).all()
    deliveries = (
        (
            await session.execute(
                select(NoticeDelivery, OutboxMessage.status, OutboxMessage.sent_at, Resident)
                .outerjoin(OutboxMessage, OutboxMessage.id == NoticeDelivery.outbox_id)
                .outerjoin(Resident, Resident.id == NoticeDelivery.resident_id)
                .where(NoticeDelivery.notice_id.in_([n.id for n in notices]))
                .order_by(NoticeDelivery.notice_id, NoticeDelivery.id)
            )
        ).all()
        if notices
        else []
    )
    buildings = {b.id: b.name for b in await session.scalars(select(Building))}
    per_notice: dict[int, list[Any]] = {}
    for row in deliveries:
        per_notice.setdefault(row[0].notice_id, []).append(row)
    notice_rows = []
    for n in notices:
        ds = per_notice.get(n.id, [])
        notice_rows.append(
            (
                n.id,
                communities.get(n.community_id, "") if n.community_id else "全部",
                grids[n.grid_id].name if n.grid_id in grids else "",
                AUDIENCE.get(n.audience, n.audience),
                n.text,
                who(n.author_telegram_id),
                _local(n.created_at, tz),
                _local(n.send_at, tz),
                _local(n.sent_at, tz),
                _local(n.cancelled_at, tz),
                len(ds),
                sum(1 for d in ds if d[1] == "sent"),
                sum(1 for d in ds if d[0].confirmed_at is not None),
            )
        )
    receipt_rows = [
        (
            d.notice_id,
            d.chat_id,
            r.name if r else "",
            buildings.get(d.building_id, "") if d.building_id else "",
            "已发送" if status == "sent" else "发送失败" if status == "failed" else "待发送",
            _local(sent_at, tz),
            _local(d.confirmed_at, tz),
            d.resent,
        )
        for d, status, sent_at, r in deliveries
    ]

    aq = select(AuditEntry).where(AuditEntry.at >= start, AuditEntry.at < end)
    if not scope.everything:
        # The audit log has no community: a scope's rows are those of the staff acting within
        # it (its grid leaders, and the staff of a community whose every grid it covers).
        whole = {
            cid
            for cid in community_ids
            if {g.id for g in grids.values() if g.community_id == cid} <= set(grid_ids)
        }
        own = set(
            await session.scalars(
                select(Staff.telegram_id).where(
                    Staff.community_id.in_(whole) | Staff.grid_id.in_(grid_ids)
                )
            )
        )
        aq = aq.where(AuditEntry.actor_telegram_id.in_(own))
    audit_rows = [
        (
            _local(a.at, tz),
            who(a.actor_telegram_id),
            a.actor_telegram_id,
            ACTIONS.get(a.action, a.action),
            a.action,
            a.target,
            json.dumps(a.details, ensure_ascii=False) if a.details else "",
        )
        for a in await session.scalars(aq.order_by(AuditEntry.id))
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


def workbook_bytes(sheets: list[Sheet]) -> bytes:
    """The ledger as an XLSX workbook: one sheet each for orders, order events, volunteers,
    notices, notice receipts and the audit log; Chinese headings, local times, yuan."""
    from openpyxl import Workbook
    from openpyxl.styles import Font

    wb = Workbook()
    wb.remove(wb.active)
    for sheet in sheets:
        ws = wb.create_sheet(sheet.title)
        ws.append(list(sheet.headings))
        for cell in ws[1]:
            cell.font = Font(bold=True)
        for row in sheet.rows:
            ws.append(list(row))
        for col, heading in enumerate(sheet.headings, start=1):
            letter = ws.cell(row=1, column=col).column_letter
            ws.column_dimensions[letter].width = max(10, len(heading) * 2 + 2)
            for (cell,) in ws.iter_rows(min_row=2, min_col=col, max_col=col):
                if isinstance(cell.value, datetime):
                    cell.number_format = "yyyy-mm-dd hh:mm"
                elif heading.endswith("(元)") and cell.value is not None:
                    cell.number_format = "0.00"
        ws.freeze_panes = "A2"
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
    return str(value)


def csv_bytes(sheet: Sheet) -> bytes:
    """A sheet (the exports: the orders) as CSV, UTF-8 with a BOM so that Excel shows the
    Chinese."""
    buf = io.StringIO()
    w = csv.writer(buf)
    w.writerow(sheet.headings)
    for row in sheet.rows:
        w.writerow([_csv_value(v) for v in row])
    return ("\ufeff" + buf.getvalue()).encode("utf-8")


def file_name(day_from: date, day_to: date, ext: str) -> str:
    days = day_from.isoformat() if day_from == day_to else f"{day_from}_{day_to}"
    return f"台账_{days}.{ext}"
