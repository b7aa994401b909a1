"""Handover posts: at each shift change, a post in the group of each grid that keeps a roster,
saying who is on now and every open and active task (with claim buttons); once per grid and
change, across sweeps and restarts (a unique `handovers` row in the transaction that writes
the post)."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field
from datetime import datetime, timedelta

from sqlalchemy import ColumnElement, exists, select
from sqlalchemy.exc import IntegrityError
from sqlalchemy.ext.asyncio import AsyncSession
from sqlalchemy.orm import selectinload

from bot import outbox
from bot.buttons import Rows
from bot.clock import local_day
from bot.i18n import N_, Gettext, gettext_for
from bot.runtime import Runtime
from bot.services import notify
from bot.services.roster.templates import Slot, shift_label, slots_of_day
from models import Building, Grid, Handover, Order, OrderStatus, Shift, Volunteer

# What a runner is doing, in the handover post.
RUNNING_WORDS = {
    OrderStatus.CLAIMED: N_("taken"),
    OrderStatus.PURCHASING: N_("buying"),
    OrderStatus.DELIVERING: N_("on the way"),
}
RUNNING = tuple(RUNNING_WORDS)
# A handover is posted for a shift change that passed at most this long ago, so the first
# start of the bot (or one after a long stop) does not post stale handovers.
HANDOVER_WINDOW = timedelta(hours=1)
LIST_MAX = 20  # tasks listed per kind in a handover post
CLAIM_BUTTONS = 8  # claim buttons on a handover post


@dataclass(frozen=True)
class TaskLine:
    id: int
    category: str
    compound: str
    building: str
    urgency: str
    status: str
    priority: bool
    runner: str | None


@dataclass(frozen=True)
class HandoverView:
    grid: str
    slot: Slot
    on_shift: list[str]
    handing_over: list[str]
    open: list[TaskLine] = field(default_factory=list)
    active: list[TaskLine] = field(default_factory=list)


async def _tasks(
    session: AsyncSession, grid_id: int, statuses: Sequence[OrderStatus]
) -> list[TaskLine]:
    rows = await session.scalars(
        select(Order)
        .where(Order.grid_id == grid_id, Order.status.in_(statuses))
        .order_by(Order.priority.desc(), Order.id)
        .options(
            selectinload(Order.building).selectinload(Building.compound),
            selectinload(Order.volunteer),
        )
    )
    return [
        TaskLine(
            o.id,
            o.category,
            o.building.compound.name,
            o.building.name,
            o.urgency,
            o.status,
            o.priority,
            o.volunteer.name if o.volunteer else None,
        )
        for o in rows
    ]


def handover_text(h: HandoverView, _: Gettext, tz: str) -> tuple[str, Rows]:
    """The post in the grid's group at a shift change: who is on now, and every open and
    active task (no names, phones or rooms of residents: DESIGN rule 6)."""
    s = h.slot
    lines = [
        "🔄 " + _("Shift handover · {grid}").format(grid=h.grid),
        _("Starting now: {shift}").format(
            shift=shift_label(s.template, s.starts_at, s.ends_at, _, tz)
        ),
    ]
    if h.on_shift:
        lines.append(_("On this shift: {names}").format(names=", ".join(h.on_shift)))
    else:
        lines.append("⚠️ " + _("Nobody is rostered for this shift."))
    if h.handing_over:
        lines.append(_("Handing over: {names}").format(names=", ".join(h.handing_over)))

    def line(t: TaskLine) -> str:
        icon = notify.CATEGORY_ICON.get(t.category, "📦")
        cat = _(notify.CATEGORY.get(t.category, notify.CATEGORY["other"]))
        head = f"{'⭐' if t.priority else '•'} {icon} #{t.id} {cat} · {t.compound} {t.building}"
        if t.runner:
            return f"{head} · {t.runner} · {_(RUNNING_WORDS[OrderStatus(t.status)])}"
        return f"{head} · {_(notify.URGENCY.get(t.urgency, notify.URGENCY['normal']))}"

    if not h.open and not h.active:
        lines += ["", _("No open or active tasks.")]
    if h.open:
        lines += ["", _("Open tasks: {n}").format(n=len(h.open))]
        lines += [line(t) for t in h.open[:LIST_MAX]]
        if len(h.open) > LIST_MAX:
            lines.append(_("… and {n} more").format(n=len(h.open) - LIST_MAX))
    if h.active:
        lines += ["", _("Tasks under way: {n}").format(n=len(h.active))]
        lines += [line(t) for t in h.active[:LIST_MAX]]
        if len(h.active) > LIST_MAX:
            lines.append(_("… and {n} more").format(n=len(h.active) - LIST_MAX))
    return "\n".join(lines), notify.claim_rows([t.id for t in h.open[:CLAIM_BUTTONS]])


def _changes(rt: Runtime, now: datetime) -> list[Slot]:
    """Template starts that passed within the handover window, oldest first."""
    window = max(HANDOVER_WINDOW, timedelta(seconds=2 * rt.settings.escalation.sweep_seconds))
    today = local_day(now, rt.timezone)
    found = []
    for d in (today - timedelta(days=1), today):
        for s in slots_of_day(rt, d):
            if now - window < s.starts_at <= now:
                found.append(s)
    return sorted(found, key=lambda s: s.starts_at)


async def _owed(session: AsyncSession, s: Slot) -> list[Grid]:
    """The grids with a group, someone rostered within a day of this change, and no post for
    it yet: one query per change, not per grid."""
    return list(
        await session.scalars(
            select(Grid)
            .where(
                Grid.group_chat_id.is_not(None),
                exists().where(
                    Shift.grid_id == Grid.id,
                    Shift.starts_at > s.starts_at - timedelta(days=1),
                    Shift.starts_at < s.starts_at + timedelta(days=1),
                ),
                ~exists().where(Handover.grid_id == Grid.id, Handover.at == s.starts_at),
            )
            .order_by(Grid.id)
        )
    )


async def _claim(session: AsyncSession, grid: Grid, s: Slot, now: datetime) -> bool:
    """Take this grid's post for this change (its unique `handovers` row); False if another
    instance already did."""
    try:
        async with session.begin_nested():
            session.add(Handover(grid_id=grid.id, at=s.starts_at, posted_at=now))
    except IntegrityError:
        return False
    return True


async def _names(session: AsyncSession, *where: ColumnElement[bool]) -> list[str]:
    """The names of the volunteers of the shifts matching ``where``, once each."""
    names = await session.scalars(
        select(Volunteer.name)
        .join(Shift, Shift.volunteer_id == Volunteer.id)
        .where(*where)
        .order_by(Volunteer.id)
    )
    return list(dict.fromkeys(names))


async def _view(session: AsyncSession, grid: Grid, s: Slot) -> HandoverView:
    """Who is on at this change, who hands over, and the grid's open and active tasks."""
    return HandoverView(
        grid=grid.name,
        slot=s,
        on_shift=await _names(
            session,
            Shift.grid_id == grid.id,
            Shift.starts_at <= s.starts_at,
            Shift.ends_at > s.starts_at,
        ),
        handing_over=await _names(session, Shift.grid_id == grid.id, Shift.ends_at == s.starts_at),
        open=await _tasks(session, grid.id, (OrderStatus.OPEN,)),
        active=await _tasks(session, grid.id, RUNNING),
    )


def _post(rt: Runtime, session: AsyncSession, grid: Grid, view: HandoverView) -> None:
    """The post in the grid's group, in the bot's default language."""
    text, rows = handover_text(view, gettext_for(rt.default_language), rt.timezone)
    assert grid.group_chat_id is not None
    outbox.enqueue(
        session,
        rt.clock,
        chat_id=grid.group_chat_id,
        text=text,
        buttons=rows or None,
        is_group=True,
    )


async def handover_due(rt: Runtime) -> int:
    """At each shift change, a handover post in the group of each grid that keeps a roster
    (someone rostered within a day of the change); once per grid and change, across sweeps
    and restarts. Returns how many were posted."""
    if not rt.settings.roster.handover_posts:
        return 0
    now = rt.clock.now()
    changes = _changes(rt, now)
    if not changes:
        return 0
    posted = 0
    async with rt.db.session() as session:
        for s in changes:
            for grid in await _owed(session, s):
                if not await _claim(session, grid, s, now):
                    continue
                _post(rt, session, grid, await _view(session, grid, s))
                posted += 1
    return posted
