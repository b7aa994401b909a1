"""The duty roster in the chat: staff set it with /roster, volunteers see theirs with /shifts
and hand a shift to a colleague.

Callback data (ids only, every press re-checked on the server):
  r:l                                   staff: the grids in scope
  r:g:<grid>                            the grid's week; choose a day
  r:d:<grid>:<yyyymmdd>                 the day's shifts; choose one
  r:t:<grid>:<yyyymmdd>:<template>      the shift: every volunteer of the grid, ✅ if on it
  r:v:<grid>:<yyyymmdd>:<template>:<volunteer>:<1|0>   put on (1) or take off (0): idempotent
  sw:l                                  volunteer: my shifts
  sw:p:<shift>                          choose a colleague to take it
  sw:r:<shift>:<volunteer>              ask them
  sw:a:<swap> / sw:n:<swap>             the colleague accepts / declines
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from datetime import date, timedelta
from typing import Any

from telegram import Update
from telegram.ext import CommandHandler, filters

from bot.buttons import Button, Rows
from bot.clock import local_day
from bot.errors import STALE, Refused
from bot.i18n import Gettext
from bot.services import roster, scope
from handlers.answers import answer, edit_or_send, pressed
from handlers.callback_data import DAY, ID, Callback, matching, one_of
from handlers.context import AppContext
from handlers.keyboards import inline
from handlers.work import Work, attempt, reading

Screen = tuple[str, Rows]
TEMPLATE = matching(r"\w{1,16}")  # a shift template of the config (checked by the service)

GRIDS = Callback("r", "l")
WEEK = Callback("r", "g", grid_id=ID)
DAY_SHIFTS = Callback("r", "d", grid_id=ID, day=DAY)
SHIFT = Callback("r", "t", grid_id=ID, day=DAY, template=TEMPLATE)
PUT_ON = Callback(
    "r", "v", grid_id=ID, day=DAY, template=TEMPLATE, volunteer_id=ID, on=one_of(("0", "1"))
)
MY_SHIFTS = Callback("sw", "l")
PICK = Callback("sw", "p", shift_id=ID)
REQUEST = Callback("sw", "r", shift_id=ID, volunteer_id=ID)
ACCEPT = Callback("sw", "a", swap_id=ID)
DECLINE = Callback("sw", "n", swap_id=ID)


def _check_day(ctx: AppContext, day: date) -> None:
    """Days staff may set: today and the next six (yesterday too, for a press after
    midnight on yesterday's screen)."""
    today = ctx.rt.today()
    if not today - timedelta(days=1) <= day < today + timedelta(days=roster.ROSTER_DAYS):
        raise Refused(STALE)


async def _show(
    update: Update, ctx: AppContext, build: Callable[[Work], Awaitable[Screen]]
) -> bool:
    """One unit of work that builds a screen; a command gets it as a reply, a button press as
    an edit of the pressed message; a refusal as a reply or an alert (then False)."""
    q = update.callback_query
    screen = await attempt(update, ctx, build)
    if screen is None:
        return False
    text, rows = screen
    if q is not None:
        await answer(q)
        await edit_or_send(update, text, inline(rows))
    elif update.effective_message is not None:
        await update.effective_message.reply_text(text, reply_markup=inline(rows))
    return True


def _uid(update: Update) -> int:
    assert update.effective_user is not None
    return update.effective_user.id


# --- staff: /roster -------------------------------------------------------------------------


def _names(people: list[roster.Colleague], _: Gettext) -> str:
    return ", ".join(p.name for p in people) if people else "—"


def _slot_line(sr: roster.SlotRoster, _: Gettext, tz: str) -> str:
    s = sr.slot
    return (
        f"{roster.template_label(s.template, _)} {roster.times_label(s.starts_at, s.ends_at, tz)}: "
        f"{_names(sr.people, _)}"
    )


async def _grid_list(ctx: AppContext, w: Work, uid: int) -> Screen:
    grids = await scope.grids_of(w.session, uid)
    if not grids:
        raise Refused(roster.REFUSE_NOT_STAFF)
    if len(grids) == 1:
        return await _grid_week(ctx, w, uid, grids[0][0], single=True)
    rows = [[Button(name, WEEK.data(grid_id=gid))] for gid, name in grids]
    return w._("📅 Duty roster: which grid?"), rows


async def _grid_week(
    ctx: AppContext, w: Work, uid: int, grid_id: int, single: bool = False
) -> Screen:
    _ = w._
    tz = ctx.rt.timezone
    name, slots = await roster.grid_roster(ctx.rt, w.session, uid, grid_id)
    lines = ["📅 " + _("Duty roster of {grid}").format(grid=name)]
    days: list[date] = []
    for sr in slots:
        if not days or days[-1] != sr.slot.day:
            days.append(sr.slot.day)
            lines.append("")
            lines.append(roster.day_label(sr.slot.day, _))
        lines.append("  " + _slot_line(sr, _, tz))
    lines += ["", _("Choose a day to change:")]
    today = days[0]
    labels = {today: _("Today"), today + timedelta(days=1): _("Tomorrow")}
    buttons = [
        Button(labels.get(d, roster.day_label(d, _)), DAY_SHIFTS.data(grid_id=grid_id, day=d))
        for d in days
    ]
    rows = [buttons[i : i + 3] for i in range(0, len(buttons), 3)]
    if not single:
        rows.append([Button(_("⬅️ Grids"), GRIDS.data())])
    return "\n".join(lines), rows


async def _grid_day(ctx: AppContext, w: Work, uid: int, grid_id: int, day: date) -> Screen:
    _ = w._
    tz = ctx.rt.timezone
    _check_day(ctx, day)
    name = await roster.grid_in_scope(w.session, uid, grid_id)
    slots = await roster.roster_of(ctx.rt, w.session, grid_id, day, days=1)
    lines = [f"📅 {name} · {roster.day_label(day, _)}", ""]
    lines += [_slot_line(sr, _, tz) for sr in slots]
    lines += ["", _("Choose a shift to put volunteers on it:")]
    rows = [
        [
            Button(
                f"{roster.template_label(sr.slot.template, _)} "
                f"{roster.times_label(sr.slot.starts_at, sr.slot.ends_at, tz)} ({len(sr.people)})",
                SHIFT.data(grid_id=grid_id, day=day, template=sr.slot.template),
            )
        ]
        for sr in slots
    ]
    rows.append([Button(_("⬅️ Week"), WEEK.data(grid_id=grid_id))])
    return "\n".join(lines), rows


def _editor_screen(ed: roster.SlotEditor, _: Gettext, tz: str) -> Screen:
    s = ed.slot
    on = [c for c, is_on in ed.volunteers if is_on]
    lines = [
        f"📅 {ed.grid} · {roster.shift_label(s.template, s.starts_at, s.ends_at, _, tz)}",
        _("On this shift: {names}").format(names=_names(on, _)),
        "",
        _("Press a name to put them on this shift (✅) or take them off."),
    ]
    if not ed.volunteers:
        lines.append(_("This grid has no approved volunteers yet."))
    buttons = [
        Button(
            ("✅ " if is_on else "▫️ ") + c.name,
            PUT_ON.data(
                grid_id=ed.grid_id,
                day=s.day,
                template=s.template,
                volunteer_id=c.id,
                on=0 if is_on else 1,
            ),
        )
        for c, is_on in ed.volunteers
    ]
    rows = [buttons[i : i + 2] for i in range(0, len(buttons), 2)]
    rows.append([Button(_("⬅️ Day"), DAY_SHIFTS.data(grid_id=ed.grid_id, day=s.day))])
    return "\n".join(lines), rows


async def roster_command(update: Update, ctx: AppContext) -> None:
    """/roster (private): staff set the duty roster of a grid in their scope."""
    uid = _uid(update)
    await _show(update, ctx, lambda w: _grid_list(ctx, w, uid))


async def grids_pressed(update: Update, ctx: AppContext) -> None:
    """r:l: the grids in scope."""
    uid = _uid(update)
    await _show(update, ctx, lambda w: _grid_list(ctx, w, uid))


async def week_pressed(update: Update, ctx: AppContext) -> None:
    """r:g:<grid>: the grid's week."""
    uid, data = _uid(update), pressed(update).data
    await _show(update, ctx, lambda w: _grid_week(ctx, w, uid, WEEK.parse(data).grid_id))


async def day_pressed(update: Update, ctx: AppContext) -> None:
    """r:d:<grid>:<day>: the day's shifts."""
    uid, data = _uid(update), pressed(update).data

    async def build(w: Work) -> Screen:
        values = DAY_SHIFTS.parse(data)  # a forged day is refused here
        return await _grid_day(ctx, w, uid, values.grid_id, values.day)

    await _show(update, ctx, build)


async def shift_pressed(update: Update, ctx: AppContext) -> None:
    """r:t:<grid>:<day>:<template>: every volunteer of the grid, ✅ if on the shift."""
    uid, data = _uid(update), pressed(update).data

    async def build(w: Work) -> Screen:
        v = SHIFT.parse(data)
        _check_day(ctx, v.day)
        ed = await roster.slot_editor(ctx.rt, w.session, uid, v.grid_id, v.day, v.template)
        return _editor_screen(ed, w._, ctx.rt.timezone)

    await _show(update, ctx, build)


async def volunteer_set(update: Update, ctx: AppContext) -> None:
    """r:v:...:<volunteer>:<1|0>: put on or taken off the shift (idempotent)."""
    uid, data = _uid(update), pressed(update).data

    async def build(w: Work) -> Screen:
        v = PUT_ON.parse(data)
        _check_day(ctx, v.day)
        ed = await roster.set_shift(
            ctx.rt, w.session, uid, v.grid_id, v.day, v.template, v.volunteer_id, v.on == "1"
        )
        return _editor_screen(ed, w._, ctx.rt.timezone)

    await _show(update, ctx, build)


# --- volunteers: /shifts and swaps ----------------------------------------------------------


async def _my_shifts(ctx: AppContext, w: Work, uid: int) -> Screen:
    _ = w._
    tz = ctx.rt.timezone
    shifts = await roster.upcoming(ctx.rt, w.session, uid)
    if not shifts:
        return _("You have no shifts coming up. The grid leader sets the roster."), []
    lines = [_("📅 Your shifts:")]
    lines += [f"• {v.label(_, tz)} · {v.grid}" for v in shifts]
    lines += ["", _("Cannot make one? Press 🔁 to ask a colleague of your grid to take it.")]
    rows = [
        [
            Button(
                f"🔁 {roster.day_label(local_day(v.starts_at, tz), _)} "
                f"{roster.template_label(v.template, _)}",
                PICK.data(shift_id=v.id),
            )
        ]
        for v in shifts
    ]
    return "\n".join(lines), rows


async def shifts_command(update: Update, ctx: AppContext) -> None:
    """/shifts (private): a volunteer's coming shifts, each with a swap button."""
    uid = _uid(update)
    await _show(update, ctx, lambda w: _my_shifts(ctx, w, uid))


async def my_shifts_pressed(update: Update, ctx: AppContext) -> None:
    """sw:l: back to my shifts."""
    uid = _uid(update)
    await _show(update, ctx, lambda w: _my_shifts(ctx, w, uid))


async def _mine_now(update: Update, ctx: AppContext, uid: int) -> None:
    """A refused press on a swap screen (the shift is no longer theirs, the colleague no longer
    free): the message shows their shifts as they are now."""
    async with reading(ctx) as w:
        text, rows = await _my_shifts(ctx, w, uid)
    await edit_or_send(update, text, inline(rows))


def _back(_: Gettext) -> list[Button]:
    return [Button(_("⬅️ My shifts"), MY_SHIFTS.data())]


async def colleague_asked(update: Update, ctx: AppContext) -> None:
    """sw:p:<shift>: who should take it?"""
    uid, shift_id = _uid(update), PICK.parse(pressed(update).data).shift_id
    tz = ctx.rt.timezone

    async def build(w: Work) -> Screen:
        _ = w._
        v, free = await roster.swap_candidates(ctx.rt, w.session, uid, shift_id)
        if not free:
            text = _("Nobody else of your grid is free then: {shift}.").format(shift=v.label(_, tz))
            return text, [_back(_)]
        buttons = [Button(c.name, REQUEST.data(shift_id=v.id, volunteer_id=c.id)) for c in free]
        rows = [buttons[i : i + 2] for i in range(0, len(buttons), 2)] + [_back(_)]
        return _("Who should take your shift {shift}?").format(shift=v.label(_, tz)), rows

    if not await _show(update, ctx, build):
        await _mine_now(update, ctx, uid)


async def swap_requested(update: Update, ctx: AppContext) -> None:
    """sw:r:<shift>:<volunteer>: ask them."""
    uid, values = _uid(update), REQUEST.parse(pressed(update).data)
    tz = ctx.rt.timezone

    async def build(w: Work) -> Screen:
        _ = w._
        sw = await roster.request_swap(ctx.rt, w.session, uid, values.shift_id, values.volunteer_id)
        text = _("🔁 I asked {name} to take your shift: {shift}. I will tell you the answer.")
        return text.format(name=sw.to_name, shift=sw.shift.label(_, tz)), [_back(_)]

    if not await _show(update, ctx, build):
        await _mine_now(update, ctx, uid)


async def swap_accepted(update: Update, ctx: AppContext) -> None:
    """sw:a:<swap>: the colleague takes the shift."""
    uid, swap_id = _uid(update), ACCEPT.parse(pressed(update).data).swap_id
    tz = ctx.rt.timezone

    async def build(w: Work) -> Screen:
        _ = w._
        sw = await roster.accept_swap(ctx.rt, w.session, uid, swap_id)
        text = _(
            "✅ You took the shift from {name}: {shift}, {grid}. "
            "I will remind you before it starts."
        )
        return text.format(name=sw.from_name, shift=sw.shift.label(_, tz), grid=sw.shift.grid), []

    if not await _show(update, ctx, build):
        await _request_as_it_stands(update, ctx, swap_id)


async def _request_as_it_stands(update: Update, ctx: AppContext, swap_id: int) -> None:
    """A refused answer to a request (taken by another, withdrawn, answered, the shift over):
    the request says where it stands now and loses its buttons; one still open (the refusal
    was about this person's own time) keeps them."""
    q = pressed(update)
    async with ctx.rt.db.read() as s:
        state = await roster.request_state(ctx.rt, s, q.from_user.id, swap_id)
    if state is None:  # not this person's request, or still open
        return
    _ = await ctx.gettext()
    text = getattr(q.message, "text", None) or ""
    await edit_or_send(update, f"{text}\n\n{state.render(_)}".strip(), None)


async def swap_declined(update: Update, ctx: AppContext) -> None:
    """sw:n:<swap>: the colleague declines."""
    uid, swap_id = _uid(update), DECLINE.parse(pressed(update).data).swap_id
    tz = ctx.rt.timezone

    async def build(w: Work) -> Screen:
        _ = w._
        sw = await roster.decline_swap(ctx.rt, w.session, uid, swap_id)
        text = _("You declined to take the shift {shift}; {name} has been told.")
        return text.format(name=sw.from_name, shift=sw.shift.label(_, tz)), []

    if not await _show(update, ctx, build):
        await _request_as_it_stands(update, ctx, swap_id)


def roster_handlers() -> list[Any]:
    private = filters.ChatType.PRIVATE
    return [
        CommandHandler("roster", roster_command, filters=private),
        CommandHandler("shifts", shifts_command, filters=private),
        GRIDS.handler(grids_pressed),
        WEEK.handler(week_pressed),
        DAY_SHIFTS.handler(day_pressed),
        SHIFT.handler(shift_pressed),
        PUT_ON.handler(volunteer_set),
        MY_SHIFTS.handler(my_shifts_pressed),
        PICK.handler(colleague_asked),
        REQUEST.handler(swap_requested),
        ACCEPT.handler(swap_accepted),
        DECLINE.handler(swap_declined),
    ]
