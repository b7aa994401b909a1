"""The duty roster: shift templates, rostered shifts, swaps, reminders and handover posts.

A shift is a template (day 08:00-20:00, night 20:00-08:00: `roster.shifts` in the config) on a
local date, stored as UTC start and end. Staff in scope put a grid's approved volunteers on it
(or import a CSV); a volunteer may hand a shift to a colleague of the grid, who accepts or
declines. Timers are data (DESIGN rule 3): a reminder is claimed by a conditional UPDATE of
`shifts.reminded_at`, a handover post by a unique `handovers` row, each in the transaction that
writes its outbox messages, so two sweeps or a restart never send one twice or lose it.
"""

from __future__ import annotations

import re
from collections.abc import Sequence
from dataclasses import dataclass, field
from datetime import UTC, date, datetime, timedelta
from functools import partial

from sqlalchemy import delete, exists, select, update
from sqlalchemy.exc import IntegrityError
from sqlalchemy.ext.asyncio import AsyncSession
from sqlalchemy.orm import selectinload

from bot import outbox
from bot.buttons import Button, Rows
from bot.clock import clock_time, local_at, local_day
from bot.config import ShiftTemplate
from bot.errors import STALE, Refused
from bot.i18n import LANGUAGES, N_, Gettext, gettext_for, local_time
from bot.runtime import Runtime
from bot.services import audit, csvfile, people, volunteers
from bot.services.messages import tell
from bot.services.orders import texts
from models import (
    Building,
    Grid,
    Handover,
    Order,
    OrderStatus,
    Shift,
    ShiftSwap,
    Volunteer,
    VolunteerStatus,
)

# Names of the usual templates as users read them; any other template shows its own name.
TEMPLATE_LABELS = {"day": N_("Day shift"), "night": N_("Night shift")}
WEEKDAYS = (N_("Mon"), N_("Tue"), N_("Wed"), N_("Thu"), N_("Fri"), N_("Sat"), N_("Sun"))
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
# Days ahead staff can set in the bot (today and the next six).
ROSTER_DAYS = 7
LIST_MAX = 20  # tasks listed per kind in a handover post
CLAIM_BUTTONS = 8  # claim buttons on a handover post

REFUSE_NOT_STAFF = N_("Only the grid leader or community staff can set the duty roster.")
REFUSE_NOT_VOLUNTEER = N_("Only approved volunteers have shifts. Sign up with /volunteer.")
REFUSE_STALE = STALE


# --- templates and times --------------------------------------------------------------------


def shift_times(t: ShiftTemplate, day: date, tz: str) -> tuple[datetime, datetime]:
    """UTC start and end of template ``t`` on local date ``day``; an end at or before the start
    is on the next day (a night shift)."""
    start = local_at(day, t.start, tz)
    end_day = day if clock_time(t.end) > clock_time(t.start) else day + timedelta(days=1)
    end = local_at(end_day, t.end, tz)
    return start.astimezone(UTC), end.astimezone(UTC)


def template_of(rt: Runtime, name: str) -> ShiftTemplate:
    for t in rt.settings.roster.shifts:
        if t.name == name:
            return t
    raise Refused(REFUSE_STALE)


@dataclass(frozen=True)
class Slot:
    """One template on one local date."""

    template: str
    day: date
    starts_at: datetime
    ends_at: datetime


def slot(rt: Runtime, template: str, day: date) -> Slot:
    start, end = shift_times(template_of(rt, template), day, rt.timezone)
    return Slot(template, day, start, end)


def slots_of_day(rt: Runtime, day: date) -> list[Slot]:
    return [slot(rt, t.name, day) for t in rt.settings.roster.shifts]


def template_label(name: str | None, _: Gettext) -> str:
    if name is None:
        return _("Shift")
    return _(TEMPLATE_LABELS[name]) if name in TEMPLATE_LABELS else name


def day_label(day: date, _: Gettext) -> str:
    return f"{day:%m-%d} {_(WEEKDAYS[day.weekday()])}"


def times_label(starts_at: datetime, ends_at: datetime, tz: str) -> str:
    return f"{local_time(starts_at, tz)}–{local_time(ends_at, tz)}"


def shift_label(
    template: str | None, starts_at: datetime, ends_at: datetime, _: Gettext, tz: str
) -> str:
    """``05-01 Wed Night shift 20:00–08:00``: the local date it starts, the name, the times."""
    return (
        f"{day_label(local_day(starts_at, tz), _)} {template_label(template, _)} "
        f"{times_label(starts_at, ends_at, tz)}"
    )


# --- who may do what ------------------------------------------------------------------------


@dataclass(frozen=True)
class Colleague:
    id: int
    telegram_id: int
    name: str


async def grid_in_scope(session: AsyncSession, telegram_id: int, grid_id: int) -> str:
    """The grid's name if this person may set its roster (people.grids_in_scope), else refused."""
    allowed = dict(await people.grids_in_scope(session, telegram_id))
    if grid_id not in allowed:
        raise Refused(REFUSE_NOT_STAFF)
    return allowed[grid_id]


async def colleagues(session: AsyncSession, grid_id: int) -> list[Colleague]:
    """The grid's approved volunteers, in the order they joined."""
    rows = await session.scalars(
        select(Volunteer)
        .where(Volunteer.grid_id == grid_id, Volunteer.status == VolunteerStatus.APPROVED)
        .order_by(Volunteer.id)
    )
    return [Colleague(v.id, v.telegram_id, v.name) for v in rows]


def _reminder(rt: Runtime, v: ShiftView, now: datetime, _: Gettext) -> tuple[str, Rows]:
    if v.starts_at > now:
        text = _("⏰ Your shift starts soon: {shift}, {grid}.")
    else:
        text = _("⏰ Your shift has begun: {shift}, {grid}.")
    text = text.format(shift=v.label(_, rt.timezone), grid=v.grid)
    text += "\n" + _("Press 🟢 to go on duty: new tasks of your grid then come to you.")
    return text, volunteers.duty_buttons(_, on_duty=False)


# --- the roster -----------------------------------------------------------------------------


@dataclass(frozen=True)
class SlotRoster:
    slot: Slot
    people: list[Colleague]


@dataclass(frozen=True)
class SlotEditor:
    """One shift of one grid, with every approved volunteer of the grid and whether they are
    on it: what staff see while setting the roster."""

    grid_id: int
    grid: str
    slot: Slot
    volunteers: list[tuple[Colleague, bool]]


async def _on_slot(session: AsyncSession, grid_id: int, s: Slot) -> list[Colleague]:
    rows = await session.execute(
        select(Volunteer.id, Volunteer.telegram_id, Volunteer.name)
        .join(Shift, Shift.volunteer_id == Volunteer.id)
        .where(Shift.grid_id == grid_id, Shift.starts_at == s.starts_at)
        .order_by(Volunteer.id)
    )
    return [Colleague(i, t, n) for i, t, n in rows]


async def roster_of(
    rt: Runtime, session: AsyncSession, grid_id: int, first_day: date, days: int = ROSTER_DAYS
) -> list[SlotRoster]:
    """Who is on each shift of the grid, day by day."""
    out = []
    for i in range(days):
        for s in slots_of_day(rt, first_day + timedelta(days=i)):
            out.append(SlotRoster(s, await _on_slot(session, grid_id, s)))
    return out


async def grid_roster(
    rt: Runtime, session: AsyncSession, telegram_id: int, grid_id: int
) -> tuple[str, list[SlotRoster]]:
    """Staff: the grid's name and its roster from today on."""
    name = await grid_in_scope(session, telegram_id, grid_id)
    return name, await roster_of(rt, session, grid_id, rt.today())


async def slot_editor(
    rt: Runtime, session: AsyncSession, telegram_id: int, grid_id: int, day: date, template: str
) -> SlotEditor:
    name = await grid_in_scope(session, telegram_id, grid_id)
    return await _editor(session, grid_id, name, slot(rt, template, day))


async def _editor(session: AsyncSession, grid_id: int, name: str, s: Slot) -> SlotEditor:
    on = {c.id for c in await _on_slot(session, grid_id, s)}
    everyone = await colleagues(session, grid_id)
    return SlotEditor(grid_id, name, s, [(c, c.id in on) for c in everyone])


async def _add(
    session: AsyncSession,
    rt: Runtime,
    grid_id: int,
    s: Slot,
    volunteer_id: int,
    created_by: int | None,
) -> bool:
    """Put a volunteer on a shift; False if they already are (idempotent)."""
    present = await session.scalar(
        select(Shift.id).where(
            Shift.grid_id == grid_id,
            Shift.volunteer_id == volunteer_id,
            Shift.starts_at == s.starts_at,
        )
    )
    if present is not None:
        return False
    try:
        async with session.begin_nested():
            session.add(
                Shift(
                    grid_id=grid_id,
                    volunteer_id=volunteer_id,
                    template=s.template,
                    starts_at=s.starts_at,
                    ends_at=s.ends_at,
                    created_by=created_by,
                    created_at=rt.clock.now(),
                )
            )
    except IntegrityError:  # another instance added it at the same moment
        return False
    return True


async def set_shift(
    rt: Runtime,
    session: AsyncSession,
    staff_telegram_id: int,
    grid_id: int,
    day: date,
    template: str,
    volunteer_id: int,
    on: bool,
) -> SlotEditor:
    """Staff put a volunteer on a shift or take them off it. Idempotent: a repeated press
    changes nothing more. The volunteer is told when something changed."""
    grid_name = await grid_in_scope(session, staff_telegram_id, grid_id)
    s = slot(rt, template, day)
    vol = await session.get(Volunteer, volunteer_id)
    if vol is None or vol.grid_id != grid_id or vol.status != VolunteerStatus.APPROVED:
        raise Refused(REFUSE_STALE)
    if s.ends_at <= rt.clock.now():  # the record of a past shift stays as it was
        raise Refused(N_("This shift is already over."))
    if on:
        changed = await _add(session, rt, grid_id, s, volunteer_id, staff_telegram_id)
        msg = N_("📅 You are on the roster: {shift}, {grid}. I will remind you before it starts.")
    else:
        ids = (
            await session.scalars(
                select(Shift.id).where(
                    Shift.grid_id == grid_id,
                    Shift.volunteer_id == volunteer_id,
                    Shift.starts_at == s.starts_at,
                )
            )
        ).all()
        if ids:
            await session.execute(delete(ShiftSwap).where(ShiftSwap.shift_id.in_(ids)))
            await session.execute(delete(Shift).where(Shift.id.in_(ids)))
        changed = bool(ids)
        msg = N_("📅 You are no longer on the roster for {shift}, {grid}.")
    if changed:
        await audit.record(
            session,
            rt.clock,
            staff_telegram_id,
            "roster." + ("on" if on else "off"),
            f"grid:{grid_id}",
            volunteer_id=volunteer_id,
            starts_at=s.starts_at.isoformat(),
        )
        await tell(
            rt,
            session,
            vol.telegram_id,
            lambda _: _(msg).format(
                shift=shift_label(s.template, s.starts_at, s.ends_at, _, rt.timezone),
                grid=grid_name,
            ),
        )
    return await _editor(session, grid_id, grid_name, s)


# --- a volunteer's shifts and swaps ---------------------------------------------------------


@dataclass(frozen=True)
class ShiftView:
    id: int
    grid_id: int
    grid: str
    volunteer_id: int
    volunteer_telegram_id: int
    volunteer_name: str
    template: str | None
    starts_at: datetime
    ends_at: datetime

    def label(self, _: Gettext, tz: str) -> str:
        return shift_label(self.template, self.starts_at, self.ends_at, _, tz)


async def _shift_view(session: AsyncSession, shift_id: int) -> ShiftView | None:
    row = await session.execute(
        select(Shift, Volunteer, Grid)
        .join(Volunteer, Volunteer.id == Shift.volunteer_id)
        .join(Grid, Grid.id == Shift.grid_id)
        .where(Shift.id == shift_id)
        .execution_options(populate_existing=True)
    )
    found = row.first()
    if found is None:
        return None
    sh, vol, grid = found
    return ShiftView(
        sh.id,
        grid.id,
        grid.name,
        vol.id,
        vol.telegram_id,
        vol.name,
        sh.template,
        sh.starts_at,
        sh.ends_at,
    )


async def upcoming(rt: Runtime, session: AsyncSession, telegram_id: int) -> list[ShiftView]:
    """The volunteer's shifts not yet over, soonest first."""
    vol = await people.approved_volunteer(session, telegram_id, REFUSE_NOT_VOLUNTEER)
    ids = (
        await session.scalars(
            select(Shift.id)
            .where(Shift.volunteer_id == vol.id, Shift.ends_at > rt.clock.now())
            .order_by(Shift.starts_at)
            .limit(20)
        )
    ).all()
    views = [await _shift_view(session, i) for i in ids]
    return [v for v in views if v is not None]


async def _own_shift(
    rt: Runtime, session: AsyncSession, telegram_id: int, shift_id: int
) -> tuple[Volunteer, ShiftView]:
    vol = await people.approved_volunteer(session, telegram_id, REFUSE_NOT_VOLUNTEER)
    v = await _shift_view(session, shift_id)
    if v is None or v.volunteer_id != vol.id:
        raise Refused(N_("This shift is no longer yours. Send /shifts to see your shifts."))
    if v.ends_at <= rt.clock.now():
        raise Refused(N_("This shift is already over."))
    return vol, v


async def _busy(session: AsyncSession, volunteer_id: int, starts: datetime, ends: datetime) -> bool:
    """Whether the volunteer is on a shift overlapping [starts, ends)."""
    return bool(
        await session.scalar(
            select(
                exists().where(
                    Shift.volunteer_id == volunteer_id,
                    Shift.starts_at < ends,
                    Shift.ends_at > starts,
                )
            )
        )
    )


async def swap_candidates(
    rt: Runtime, session: AsyncSession, telegram_id: int, shift_id: int
) -> tuple[ShiftView, list[Colleague]]:
    """The colleagues of the grid who could take this shift (not on a shift at that time)."""
    vol, v = await _own_shift(rt, session, telegram_id, shift_id)
    free = [
        c
        for c in await colleagues(session, v.grid_id)
        if c.id != vol.id and not await _busy(session, c.id, v.starts_at, v.ends_at)
    ]
    return v, free


@dataclass(frozen=True)
class SwapView:
    id: int
    status: str
    shift: ShiftView
    from_telegram_id: int
    from_name: str
    to_telegram_id: int
    to_name: str


def swap_buttons(swap_id: int, _: Gettext) -> Rows:
    return [
        [
            Button(_("✅ Accept"), f"sw:a:{swap_id}"),
            Button(_("✖️ Decline"), f"sw:n:{swap_id}"),
        ]
    ]


async def request_swap(
    rt: Runtime, session: AsyncSession, telegram_id: int, shift_id: int, to_volunteer_id: int
) -> SwapView:
    """Ask a colleague of the grid to take one's shift; they get the request with buttons.
    Asking the same colleague again for the same shift sends nothing new."""
    vol, v = await _own_shift(rt, session, telegram_id, shift_id)
    to = await session.get(Volunteer, to_volunteer_id)
    if (
        to is None
        or to.id == vol.id
        or to.grid_id != v.grid_id
        or to.status != VolunteerStatus.APPROVED
    ):
        raise Refused(REFUSE_STALE)
    if await _busy(session, to.id, v.starts_at, v.ends_at):
        raise Refused(N_("{name} is already on a shift at that time."), name=to.name)
    pending = await session.scalar(
        select(ShiftSwap).where(
            ShiftSwap.shift_id == shift_id,
            ShiftSwap.from_volunteer_id == vol.id,
            ShiftSwap.to_volunteer_id == to.id,
            ShiftSwap.status == "pending",
        )
    )
    if pending is None:
        pending = ShiftSwap(
            shift_id=shift_id,
            from_volunteer_id=vol.id,
            to_volunteer_id=to.id,
            status="pending",
            created_at=rt.clock.now(),
        )
        session.add(pending)
        await session.flush()
        swap_id = pending.id
        await tell(
            rt,
            session,
            to.telegram_id,
            lambda _: (
                _("🔁 {name} asks you to take their shift: {shift}, {grid}.").format(
                    name=vol.name, shift=v.label(_, rt.timezone), grid=v.grid
                ),
                swap_buttons(swap_id, _),
            ),
        )
    return SwapView(pending.id, "pending", v, vol.telegram_id, vol.name, to.telegram_id, to.name)


async def _swap_for(
    session: AsyncSession, telegram_id: int, swap_id: int
) -> tuple[ShiftSwap, Volunteer, Volunteer]:
    """The swap, if this person is the one asked."""
    sw = await session.get(ShiftSwap, swap_id, populate_existing=True)
    if sw is None:
        raise Refused(N_("This request no longer exists: the shift was changed."))
    to = await session.get(Volunteer, sw.to_volunteer_id)
    frm = await session.get(Volunteer, sw.from_volunteer_id)
    assert to is not None and frm is not None
    if to.telegram_id != telegram_id:
        raise Refused(REFUSE_STALE)
    if to.status != VolunteerStatus.APPROVED:
        raise Refused(REFUSE_NOT_VOLUNTEER)
    return sw, frm, to


def _answered(status: str) -> Refused:
    if status == "accepted":
        return Refused(N_("This request was already accepted."))
    if status == "declined":
        return Refused(N_("This request was already declined."))
    return Refused(N_("This request is no longer open: the shift has been taken or changed."))


async def _decide(rt: Runtime, session: AsyncSession, swap_id: int, status: str) -> bool:
    res = await session.execute(
        update(ShiftSwap)
        .where(ShiftSwap.id == swap_id, ShiftSwap.status == "pending")
        .values(status=status, decided_at=rt.clock.now())
        .execution_options(synchronize_session=False)
    )
    return res.rowcount == 1


async def accept_swap(
    rt: Runtime, session: AsyncSession, telegram_id: int, swap_id: int
) -> SwapView:
    """The colleague takes the shift: one conditional UPDATE of the shift's volunteer, judged
    by its row count, so a second press, a stale button or a shift changed meanwhile is
    refused. The requester is told; other requests for the same shift are withdrawn."""
    sw, frm, to = await _swap_for(session, telegram_id, swap_id)
    if sw.status != "pending":
        raise _answered(sw.status)
    v = await _shift_view(session, sw.shift_id)
    now = rt.clock.now()
    if v is None or v.grid_id != to.grid_id or v.volunteer_id != frm.id:
        raise _answered("withdrawn")
    if v.ends_at <= now:
        raise Refused(N_("This shift is already over."))
    if await _busy(session, to.id, v.starts_at, v.ends_at):
        raise Refused(N_("You are already on a shift at that time."))
    moved = await session.execute(
        update(Shift)
        .where(Shift.id == sw.shift_id, Shift.volunteer_id == frm.id, Shift.ends_at > now)
        # The reminder is owed again, to the new volunteer.
        .values(volunteer_id=to.id, reminded_at=None)
        .execution_options(synchronize_session=False)
    )
    if moved.rowcount != 1 or not await _decide(rt, session, swap_id, "accepted"):
        raise _answered("withdrawn")
    await session.execute(
        update(ShiftSwap)
        .where(ShiftSwap.shift_id == sw.shift_id, ShiftSwap.status == "pending")
        .values(status="withdrawn", decided_at=now)
        .execution_options(synchronize_session=False)
    )
    v = await _shift_view(session, sw.shift_id)
    assert v is not None
    await tell(
        rt,
        session,
        frm.telegram_id,
        lambda _: _("✅ {name} took your shift: {shift}, {grid}.").format(
            name=to.name, shift=v.label(_, rt.timezone), grid=v.grid
        ),
    )
    return SwapView(swap_id, "accepted", v, frm.telegram_id, frm.name, to.telegram_id, to.name)


async def decline_swap(
    rt: Runtime, session: AsyncSession, telegram_id: int, swap_id: int
) -> SwapView:
    sw, frm, to = await _swap_for(session, telegram_id, swap_id)
    if not await _decide(rt, session, swap_id, "declined"):
        sw = await session.get(ShiftSwap, swap_id, populate_existing=True)
        assert sw is not None
        raise _answered(sw.status)
    v = await _shift_view(session, sw.shift_id)
    if v is None:
        raise _answered("withdrawn")
    await tell(
        rt,
        session,
        frm.telegram_id,
        lambda _: _(
            "✖️ {name} cannot take your shift: {shift}. Send /shifts to ask someone else."
        ).format(name=to.name, shift=v.label(_, rt.timezone)),
    )
    return SwapView(swap_id, "declined", v, frm.telegram_id, frm.name, to.telegram_id, to.name)


# --- the sweep: reminders and handovers -----------------------------------------------------


async def remind_due(rt: Runtime) -> int:
    """Remind each rostered volunteer `reminder_minutes` before their shift, once; never for a
    shift already over. Returns how many were reminded."""
    now = rt.clock.now()
    soon = now + timedelta(minutes=rt.settings.roster.reminder_minutes)
    sent = 0
    async with rt.db.session() as session:
        due = (
            await session.scalars(
                select(Shift.id)
                .join(Volunteer, Volunteer.id == Shift.volunteer_id)
                .where(
                    Shift.reminded_at.is_(None),
                    Shift.starts_at <= soon,
                    Shift.ends_at > now,
                    Volunteer.status == VolunteerStatus.APPROVED,
                )
                .order_by(Shift.starts_at, Shift.id)
                .limit(200)
            )
        ).all()
        for shift_id in due:
            claimed = await session.execute(
                update(Shift)
                .where(Shift.id == shift_id, Shift.reminded_at.is_(None))
                .values(reminded_at=now)
                .execution_options(synchronize_session=False)
            )
            if claimed.rowcount != 1:
                continue  # another sweep took it
            v = await _shift_view(session, shift_id)
            assert v is not None
            await tell(rt, session, v.volunteer_telegram_id, partial(_reminder, rt, v, now))
            sent += 1
    return sent


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
        icon = texts.CATEGORY_ICON.get(t.category, "📦")
        cat = _(texts.CATEGORY.get(t.category, texts.CATEGORY["other"]))
        head = f"{'⭐' if t.priority else '•'} {icon} #{t.id} {cat} · {t.compound} {t.building}"
        if t.runner:
            return f"{head} · {t.runner} · {_(RUNNING_WORDS[OrderStatus(t.status)])}"
        return f"{head} · {_(texts.URGENCY.get(t.urgency, texts.URGENCY['normal']))}"

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
    return "\n".join(lines), texts.claim_rows([t.id for t in h.open[:CLAIM_BUTTONS]])


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
            # Only the grids still owed this change's post: one query per sweep, not per grid.
            owed = (
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
            ).all()
            for grid in owed:
                try:
                    async with session.begin_nested():
                        session.add(Handover(grid_id=grid.id, at=s.starts_at, posted_at=now))
                except IntegrityError:  # another instance posted it
                    continue
                on_shift = await session.scalars(
                    select(Volunteer.name)
                    .join(Shift, Shift.volunteer_id == Volunteer.id)
                    .where(
                        Shift.grid_id == grid.id,
                        Shift.starts_at <= s.starts_at,
                        Shift.ends_at > s.starts_at,
                    )
                    .order_by(Volunteer.id)
                )
                leaving = await session.scalars(
                    select(Volunteer.name)
                    .join(Shift, Shift.volunteer_id == Volunteer.id)
                    .where(Shift.grid_id == grid.id, Shift.ends_at == s.starts_at)
                    .order_by(Volunteer.id)
                )
                view = HandoverView(
                    grid=grid.name,
                    slot=s,
                    on_shift=list(dict.fromkeys(on_shift)),
                    handing_over=list(dict.fromkeys(leaving)),
                    open=await _tasks(session, grid.id, (OrderStatus.OPEN,)),
                    active=await _tasks(session, grid.id, RUNNING),
                )
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
                posted += 1
    return posted


# --- CSV import (`paotui roster import FILE`) -----------------------------------------------

CSV_COLUMNS = ("grid", "date", "shift", "volunteer")
_DATE = re.compile(r"^\d{4}-\d{2}-\d{2}$")


@dataclass
class ImportResult:
    rows: int = 0
    added: int = 0
    skipped: int = 0  # already on the roster, or the same row twice in the file
    errors: list[tuple[int, str]] = field(default_factory=list)  # (line number, reason)


def _digits(value: str) -> str:
    d = re.sub(r"\D", "", value)
    return d[2:] if len(d) == 13 and d.startswith("86") else d


def _template_names(rt: Runtime) -> dict[str, str]:
    """A template by its name, or by its label in any language (白班, Day shift)."""
    names: dict[str, str] = {}
    for t in rt.settings.roster.shifts:
        names[t.name.lower()] = t.name
        for lang in LANGUAGES:
            names[template_label(t.name, gettext_for(lang)).lower()] = t.name
    return names


async def import_csv(rt: Runtime, session: AsyncSession, text: str) -> ImportResult:
    """Check every row first; if any is bad, return the reasons and write nothing. Otherwise
    add every shift not already on the roster (in the caller's one transaction)."""
    result = ImportResult()
    table = csvfile.read(text, CSV_COLUMNS)
    result.rows = table.count
    result.errors.extend(table.errors)
    if not table.header_ok:
        return result
    grids = (await session.scalars(select(Grid).order_by(Grid.id))).all()
    vols = (await session.scalars(select(Volunteer).order_by(Volunteer.id))).all()
    grid_names = {g.id: g.name for g in grids}
    templates = _template_names(rt)
    good: list[tuple[int, int, Slot]] = []  # (grid id, volunteer id, slot)
    for line, value in table.lines:
        reasons: list[str] = []

        grid = None
        g = value["grid"]
        if not g:
            reasons.append("the grid is empty")
        else:
            matches = [x for x in grids if (g.isdigit() and x.id == int(g)) or x.name == g]
            if not matches:
                reasons.append(f"no grid {g!r}")
            elif len(matches) > 1:
                reasons.append(f"several grids are called {g!r}: use the grid's id")
            else:
                grid = matches[0]

        day = None
        d = value["date"]
        try:
            if not _DATE.match(d):
                raise ValueError(d)
            day = date.fromisoformat(d)
        except ValueError:
            reasons.append(f"the date {d!r} is not YYYY-MM-DD")

        template = templates.get(value["shift"].lower())
        if template is None:
            known = ", ".join(t.name for t in rt.settings.roster.shifts)
            reasons.append(f"no shift {value['shift']!r} (the shifts are: {known})")

        vol = None
        who = value["volunteer"]
        key = _digits(who)
        if not key:
            reasons.append("the volunteer is empty (a phone number or a Telegram id)")
        else:
            found = {
                v.id: v
                for v in vols
                if str(v.telegram_id) == key or (v.phone and _digits(v.phone) == key)
            }
            if not found:
                reasons.append(f"no volunteer with the phone number or Telegram id {who!r}")
            elif len(found) > 1:
                reasons.append(f"{who!r} matches several volunteers: use the Telegram id")
            else:
                vol = next(iter(found.values()))
                if vol.status != VolunteerStatus.APPROVED:
                    reasons.append(f"{vol.name} ({who}) is not an approved volunteer")
                elif grid is not None and vol.grid_id != grid.id:
                    reasons.append(
                        f"{vol.name} ({who}) is a volunteer of {grid_names[vol.grid_id]}, "
                        f"not of {grid.name}"
                    )
        if reasons:
            result.errors.append((line, "; ".join(reasons)))
            continue
        assert grid is not None and day is not None and template is not None and vol is not None
        good.append((grid.id, vol.id, slot(rt, template, day)))
    if result.errors:
        result.errors.sort()
        return result
    seen: set[tuple[int, int, datetime]] = set()
    for grid_id, volunteer_id, s in good:
        key3 = (grid_id, volunteer_id, s.starts_at)
        if key3 in seen or not await _add(session, rt, grid_id, s, volunteer_id, None):
            result.skipped += 1
        else:
            result.added += 1
        seen.add(key3)
    return result
