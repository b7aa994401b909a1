"""/stats: what is going on in some grids over some local days, and its text.

`stats` counts the orders created in the days asked for (by status now, by kind, per grid),
what each volunteer claimed and delivered in those days (from the order events, so a task
released and taken by someone else counts for both), the median minutes from created to
claimed and from claimed to delivered, and the open tasks unclaimed longer than
`reports.unclaimed_minutes` right now. Each of these is one small query function here;
`render_stats` writes the result for a reader. No Telegram types.
"""

from __future__ import annotations

import asyncio
from collections import Counter
from collections.abc import AsyncIterator, Iterable, Sequence
from dataclasses import dataclass, field, replace
from datetime import date, datetime
from typing import Any

from sqlalchemy import ColumnElement, and_, case, func, select
from sqlalchemy.ext.asyncio import AsyncSession

from bot.i18n import N_, P_, Gettext, Plural, ngettext
from bot.limits import TEXT_LIMIT, tg_len
from bot.runtime import Runtime
from bot.services.orders import texts
from bot.services.reports import building_counts
from bot.services.reports.days import day_bounds
from bot.services.reports.durations import median, seconds_between
from models import Grid, Order, OrderEvent, OrderStatus, Volunteer


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
    urges: int = 0  # 催一催: how often the resident reminded the staff


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
    # How the orders came (issue 16): "bot" (the resident's own chat), "phone" (taken by phone).
    by_channel: dict[str, int] = field(default_factory=dict)
    # The buildings by status, already in words (issue 17: building_counts.lines).
    building_lines: list[str] = field(default_factory=list)


def _minutes(a: datetime, b: datetime) -> float:
    return (b - a).total_seconds() / 60


# --- the queries -------------------------------------------------------------------------------


async def _grids(session: AsyncSession, grid_ids: Sequence[int]) -> list[Grid]:
    return list(await session.scalars(select(Grid).where(Grid.id.in_(grid_ids)).order_by(Grid.id)))


# Rows are read in partitions of this size: between two, the event loop serves other updates
# (a month of a district's orders turned into Python values at once would stall it for seconds).
READ_CHUNK = 2000


async def _rows(session: AsyncSession, stmt: Any) -> AsyncIterator[Sequence[Any]]:
    """The plain rows (no ORM objects) of a column query, a partition at a time."""
    result = await session.stream(stmt.execution_options(yield_per=READ_CHUNK))
    async for part in result.partitions(READ_CHUNK):
        yield part
        await asyncio.sleep(0)


@dataclass
class _Created:
    """The orders created in the days asked for, counted by the database."""

    count: int = 0
    by_status: Counter[str] = field(default_factory=Counter)
    by_category: Counter[str] = field(default_factory=Counter)
    per_grid: Counter[int] = field(default_factory=Counter)
    delivered_per_grid: Counter[int] = field(default_factory=Counter)
    median_claim_minutes: float | None = None
    median_deliver_minutes: float | None = None
    phone: int = 0


def _minutes_median(seconds: float | None) -> float | None:
    return None if seconds is None else round(seconds / 60, 1)


async def _orders_created(
    session: AsyncSession, grid_ids: Sequence[int] | None, start: datetime, end: datetime
) -> _Created:
    """The orders of these grids (None: every grid, no filter on the grid at all) created
    between `start` and `end`: counts by status, category and grid, with how many of them were
    claimed and delivered (one GROUP BY), and the median minutes to claim and to deliver (in
    the database, `durations.median`, given those counts)."""
    out = _Created()
    created: tuple[ColumnElement[bool], ...] = (
        Order.created_at >= start,
        Order.created_at < end,
    )
    if grid_ids is not None:
        created += (Order.grid_id.in_(grid_ids),)
    claimed = Order.claimed_at.is_not(None)
    claimed_delivered = and_(claimed, Order.delivered_at.is_not(None))
    q = (
        select(
            Order.status,
            Order.category,
            Order.grid_id,
            func.count(),
            func.count(Order.delivered_at),
            func.count(Order.claimed_at),
            func.count(case((claimed_delivered, 1))),
        )
        .where(*created)
        .group_by(Order.status, Order.category, Order.grid_id)
    )
    # Orders taken by phone, counted apart: the main count above stays on its covering index.
    phone = await session.scalar(
        select(func.count()).select_from(Order).where(*created, Order.channel == "phone")
    )
    out.phone = int(phone or 0)
    n_claimed = n_claimed_delivered = 0
    for status, category, grid_id, n, delivered, n_c, n_cd in await session.execute(q):
        out.count += n
        out.by_status[str(status)] += n
        out.by_category[category] += n
        out.per_grid[grid_id] += n
        out.delivered_per_grid[grid_id] += delivered
        n_claimed += n_c
        n_claimed_delivered += n_cd
    out.median_claim_minutes = _minutes_median(
        await median(
            session,
            seconds_between(Order.created_at, Order.claimed_at),
            *created,
            claimed,
            n=n_claimed,
        )
    )
    out.median_deliver_minutes = _minutes_median(
        await median(
            session,
            seconds_between(Order.claimed_at, Order.delivered_at),
            *created,
            claimed_delivered,
            n=n_claimed_delivered,
        )
    )
    return out


@dataclass(frozen=True)
class _Open:
    """An order open right now: only what /stats shows of it."""

    id: int
    grid_id: int
    category: str
    urgency: str
    created_at: datetime
    urges: int = 0


async def _open_now(session: AsyncSession, grid_ids: Sequence[int]) -> list[_Open]:
    """The orders of these grids open right now, oldest first (plain rows, in partitions)."""
    q = (
        select(
            Order.id,
            Order.grid_id,
            Order.category,
            Order.urgency,
            Order.created_at,
            Order.urge_count,
        )
        .where(Order.grid_id.in_(grid_ids), Order.status == OrderStatus.OPEN)
        .order_by(Order.created_at, Order.id)
    )
    out: list[_Open] = []
    async for part in _rows(session, q):
        out.extend(_Open(i, g, c, str(u), t, n or 0) for i, g, c, u, t, n in part)
    return out


async def _volunteer_lines(
    session: AsyncSession, grid_ids: Sequence[int] | None, start: datetime, end: datetime
) -> list[VolunteerLine]:
    """What each volunteer did in these days, from the events (claims and deliveries), most
    deliveries first. ``grid_ids`` None: every grid (the events are not joined to their
    orders at all: at a district's scale that join is most of the query)."""
    q = (
        select(OrderEvent.actor_telegram_id, OrderEvent.to_status, func.count())
        .where(
            OrderEvent.at >= start,
            OrderEvent.at < end,
            OrderEvent.to_status.in_((OrderStatus.CLAIMED, OrderStatus.DELIVERED)),
            OrderEvent.actor_telegram_id.is_not(None),
        )
        .group_by(OrderEvent.actor_telegram_id, OrderEvent.to_status)
    )
    if grid_ids is not None:
        q = q.join(Order, Order.id == OrderEvent.order_id).where(Order.grid_id.in_(grid_ids))
    claimed: Counter[int | None] = Counter()  # (None: excluded by the query)
    delivered: Counter[int | None] = Counter()
    for t, s, n in await session.execute(q):
        if s == OrderStatus.CLAIMED:
            claimed[t] += n
        elif s == OrderStatus.DELIVERED:
            delivered[t] += n
    people = set(claimed) | set(delivered)
    if not people:
        return []
    vols = (
        await session.scalars(
            select(Volunteer).where(Volunteer.telegram_id.in_(people)).order_by(Volunteer.id)
        )
    ).all()
    grid_names = await _grid_names(session, {v.grid_id for v in vols}) if vols else {}
    return sorted(
        (
            VolunteerLine(
                volunteer_id=v.id,
                name=v.name,
                grid=grid_names.get(v.grid_id, ""),
                claimed=claimed[v.telegram_id],
                delivered=delivered[v.telegram_id],
            )
            for v in vols
        ),
        key=lambda line: (-line.delivered, -line.claimed, line.volunteer_id),
    )


async def _every_grid(session: AsyncSession, grid_ids: Sequence[int]) -> bool:
    """Whether these are all the grids there are (an admin's scope)."""
    return set(await session.scalars(select(Grid.id))) <= set(grid_ids)


async def _grid_names(session: AsyncSession, grid_ids: set[int]) -> dict[int, str]:
    rows = await session.execute(select(Grid.id, Grid.name).where(Grid.id.in_(grid_ids)))
    return {gid: name for gid, name in rows.all()}


# --- putting them together ---------------------------------------------------------------------


def _grid_lines(grids: list[Grid], orders: _Created, open_now: list[_Open]) -> list[GridLine]:
    open_per_grid = Counter(o.grid_id for o in open_now)
    return [
        GridLine(
            grid_id=g.id,
            name=g.name,
            created=orders.per_grid[g.id],
            delivered=orders.delivered_per_grid[g.id],
            open_now=open_per_grid[g.id],
        )
        for g in grids
    ]


def _waiting(
    open_now: list[_Open], grid_name: dict[int, str], now: datetime, unclaimed_minutes: int
) -> list[Waiting]:
    """The open tasks unclaimed for longer than `unclaimed_minutes`, and those urged."""
    return [
        Waiting(
            order_id=o.id,
            grid=grid_name.get(o.grid_id, ""),
            category=o.category,
            urgency=o.urgency,
            minutes=int(_minutes(o.created_at, now)),
            urges=o.urges,
        )
        for o in open_now
        # An order its resident urged (催一催) is listed however long it has waited.
        if _minutes(o.created_at, now) > unclaimed_minutes or o.urges
    ]


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
    ids = tuple(grid_ids)
    start, end = day_bounds(day_from, day_to, tz)
    grids = await _grids(session, ids)
    # An admin's scope is every grid: then the orders and events are not filtered by grid at
    # all (at a district's scale the IN test on every row is a good part of the queries).
    only_grids = None if await _every_grid(session, ids) else ids
    orders = await _orders_created(session, only_grids, start, end)
    open_now = await _open_now(session, ids)
    return Stats(
        day_from=day_from,
        day_to=day_to,
        created=orders.count,
        by_status=dict(orders.by_status),
        by_category=dict(orders.by_category),
        grids=_grid_lines(grids, orders, open_now),
        volunteers=await _volunteer_lines(session, only_grids, start, end),
        median_claim_minutes=orders.median_claim_minutes,
        median_deliver_minutes=orders.median_deliver_minutes,
        unclaimed_minutes=unclaimed_minutes,
        unclaimed=_waiting(open_now, {g.id: g.name for g in grids}, now, unclaimed_minutes),
        by_channel={"bot": orders.count - orders.phone, "phone": orders.phone},
    )


async def stats_for(
    rt: Runtime,
    session: AsyncSession,
    grid_ids: Iterable[int],
    day_from: date,
    day_to: date,
    _: Gettext | None = None,
) -> Stats:
    """The stats; with ``_``, the buildings by status too, in that language."""
    ids = tuple(grid_ids)
    made = await stats(
        session,
        ids,
        day_from,
        day_to,
        rt.clock.now(),
        tz=rt.timezone,
        unclaimed_minutes=rt.settings.reports.unclaimed_minutes,
    )
    if _ is None:
        return made
    counts = await building_counts.by_status(session, ids)
    return replace(
        made, building_lines=building_counts.lines(counts, rt.settings.building_status, _)
    )


# --- the text ----------------------------------------------------------------------------------


def _period(s: Stats) -> str:
    if s.day_from == s.day_to:
        return s.day_from.isoformat()
    return f"{s.day_from.isoformat()} – {s.day_to.isoformat()}"


def _fmt_minutes(value: float | None, _: Gettext) -> str:
    if value is None:
        return "–"
    return _("{n} min").format(n=f"{value:g}")


# The longest lists of /stats are cut to what a reader takes in (a district's admin has
# hundreds of volunteers and may have hundreds of tasks waiting): the first of each (the grids
# in order, the volunteers who delivered most, the tasks waiting longest), then how many more.
SHOWN_GRIDS = 40
SHOWN_VOLUNTEERS = 15
SHOWN_WAITING = 15

URGED = N_("🔔 the resident reminded us {n}×")
MORE_GRIDS = P_(
    "…and {n} more grid (all of them in /export).", "…and {n} more grids (all of them in /export)."
)
MORE_VOLUNTEERS = P_(
    "…and {n} more volunteer (all of them in /export).",
    "…and {n} more volunteers (all of them in /export).",
)
MORE_WAITING = P_("…and {n} more task waiting.", "…and {n} more tasks waiting.")
UNCLAIMED_HEAD = P_(
    "⚠️ Unclaimed for more than {n} minute:", "⚠️ Unclaimed for more than {n} minutes:"
)
NONE_UNCLAIMED = P_(
    "✅ Nothing unclaimed for more than {n} minute.",
    "✅ Nothing unclaimed for more than {n} minutes.",
)


def _first(items: Sequence[Any], shown: int, more: Plural, _: Gettext) -> tuple[Sequence[Any], str]:
    """The first ``shown`` of ``items``, and the line saying how many more ("" if none)."""
    if len(items) <= shown:
        return items, ""
    n = len(items) - shown
    return items[:shown], ngettext(_, more, n).format(n=n)


def _render(s: Stats, _: Gettext, grids: int, volunteers: int, waiting: int) -> str:
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
            _("🤖 By the bot {bot} · 📞 by phone {phone}").format(
                bot=s.by_channel.get("bot", 0), phone=s.by_channel.get("phone", 0)
            )
        )
    lines.append(
        _("⏱ Median time to claim: {claim}; claim to delivery: {deliver}").format(
            claim=_fmt_minutes(s.median_claim_minutes, _),
            deliver=_fmt_minutes(s.median_deliver_minutes, _),
        )
    )
    if s.grids:
        shown_grids, more = _first(s.grids, grids, MORE_GRIDS, _)
        lines.append("")
        lines.append(_("Per grid (ordered / delivered / open now):"))
        lines.extend(
            "• "
            + _("{label}: {value}").format(
                label=g.name, value=f"{g.created} / {g.delivered} / {g.open_now}"
            )
            for g in shown_grids
        )
        lines.extend([more] if more else [])
    if s.volunteers:
        shown_vols, more = _first(s.volunteers, volunteers, MORE_VOLUNTEERS, _)
        lines.append("")
        lines.append(_("Per volunteer (claimed / delivered):"))
        lines.extend(
            "• "
            + _("{label}: {value}").format(
                label=_("{name} ({grid})").format(name=v.name, grid=v.grid),
                value=f"{v.claimed} / {v.delivered}",
            )
            for v in shown_vols
        )
        lines.extend([more] if more else [])
    lines.extend(s.building_lines)
    lines.append("")
    if s.unclaimed:
        shown_waiting, more = _first(s.unclaimed, waiting, MORE_WAITING, _)
        lines.append(ngettext(_, UNCLAIMED_HEAD, s.unclaimed_minutes).format(n=s.unclaimed_minutes))
        lines.extend(
            _("• #{id} {grid} {kind}, {urgency}: {minutes} min").format(
                id=w.order_id,
                grid=w.grid,
                kind=_(texts.CATEGORY.get(w.category, w.category)),
                urgency=_(texts.URGENCY.get(w.urgency, w.urgency)),
                minutes=w.minutes,
            )
            + (" · " + _(URGED).format(n=w.urges) if w.urges else "")
            for w in shown_waiting
        )
        lines.extend([more] if more else [])
    else:
        lines.append(ngettext(_, NONE_UNCLAIMED, s.unclaimed_minutes).format(n=s.unclaimed_minutes))
    return "\n".join(lines)


def render_stats(s: Stats, _: Gettext, limit: int = TEXT_LIMIT) -> str:
    """The stats as one message of at most ``limit`` (Telegram's measure): the grids, the
    volunteers and the waiting tasks each cut to their first few, fewer still if long names
    would not fit otherwise (the totals and medians are always there)."""
    grids, volunteers, waiting = SHOWN_GRIDS, SHOWN_VOLUNTEERS, SHOWN_WAITING
    text = _render(s, _, grids, volunteers, waiting)
    while tg_len(text) > limit and (grids or volunteers or waiting):
        grids, volunteers, waiting = grids // 2, volunteers // 2, waiting // 2
        text = _render(s, _, grids, volunteers, waiting)
    return text
