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
from datetime import date, datetime, timedelta
from typing import Any

from telegram import Update
from telegram.ext import CallbackQueryHandler, CommandHandler, filters

from bot.buttons import Button, Rows
from bot.clock import local_day
from bot.errors import Refused
from bot.i18n import Gettext
from bot.services import roster, scope
from handlers.callback_data import DAY, ID
from handlers.common import STALE, Work, alert, answer, edit_or_send, inline, unit_of_work
from handlers.context import AppContext

Screen = tuple[str, Rows]


def _day(raw: str) -> date:
    try:
        return datetime.strptime(raw, "%Y%m%d").date()
    except ValueError:  # forged
        raise Refused(STALE) from None


def _check_day(ctx: AppContext, day: date) -> None:
    """Days staff may set: today and the next six (yesterday too, for a press after
    midnight on yesterday's screen)."""
    today = ctx.rt.today()
    if not today - timedelta(days=1) <= day < today + timedelta(days=roster.ROSTER_DAYS):
        raise Refused(STALE)


async def _show(
    update: Update, ctx: AppContext, build: Callable[[Work], Awaitable[Screen]]
) -> None:
    """One unit of work that builds a screen; a command gets it as a reply, a button press as
    an edit of the pressed message; a refusal as a reply or an alert."""
    q = update.callback_query
    try:
        async with unit_of_work(update, ctx) as w:
            _ = w._
            text, rows = await build(w)
    except Refused as e:
        if q is not None:
            await alert(update, e.render(_))
        elif update.effective_message is not None:
            await update.effective_message.reply_text(e.render(_))
        return
    if q is not None:
        await answer(q)
        await edit_or_send(update, text, inline(rows))
    elif update.effective_message is not None:
        await update.effective_message.reply_text(text, reply_markup=inline(rows))


def _parts(update: Update) -> list[str]:
    q = update.callback_query
    assert q is not None and q.data is not None
    return q.data.split(":")


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
    rows = [[Button(name, f"r:g:{gid}")] for gid, name in grids]
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
        Button(labels.get(d, roster.day_label(d, _)), f"r:d:{grid_id}:{d:%Y%m%d}") for d in days
    ]
    rows = [buttons[i : i + 3] for i in range(0, len(buttons), 3)]
    if not single:
        rows.append([Button(_("⬅️ Grids"), "r:l")])
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
                f"r:t:{grid_id}:{day:%Y%m%d}:{sr.slot.template}",
            )
        ]
        for sr in slots
    ]
    rows.append([Button(_("⬅️ Week"), f"r:g:{grid_id}")])
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
    base = f"r:v:{ed.grid_id}:{s.day:%Y%m%d}:{s.template}"
    buttons = [
        Button(("✅ " if is_on else "▫️ ") + c.name, f"{base}:{c.id}:{0 if is_on else 1}")
        for c, is_on in ed.volunteers
    ]
    rows = [buttons[i : i + 2] for i in range(0, len(buttons), 2)]
    rows.append([Button(_("⬅️ Day"), f"r:d:{ed.grid_id}:{s.day:%Y%m%d}")])
    return "\n".join(lines), rows


async def roster_command(update: Update, ctx: AppContext) -> None:
    """/roster (private): staff set the duty roster of a grid in their scope."""
    uid = _uid(update)
    await _show(update, ctx, lambda w: _grid_list(ctx, w, uid))


async def roster_button(update: Update, ctx: AppContext) -> None:
    uid = _uid(update)
    parts = _parts(update)
    verb = parts[1]

    async def build(w: Work) -> Screen:
        if verb == "l":
            return await _grid_list(ctx, w, uid)
        grid_id = int(parts[2])
        if verb == "g":
            return await _grid_week(ctx, w, uid, grid_id)
        day = _day(parts[3])
        if verb == "d":
            return await _grid_day(ctx, w, uid, grid_id, day)
        _check_day(ctx, day)
        template = parts[4]
        if verb == "t":
            ed = await roster.slot_editor(ctx.rt, w.session, uid, grid_id, day, template)
        else:  # v
            ed = await roster.set_shift(
                ctx.rt, w.session, uid, grid_id, day, template, int(parts[5]), parts[6] == "1"
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
                f"sw:p:{v.id}",
            )
        ]
        for v in shifts
    ]
    return "\n".join(lines), rows


async def shifts_command(update: Update, ctx: AppContext) -> None:
    """/shifts (private): a volunteer's coming shifts, each with a swap button."""
    uid = _uid(update)
    await _show(update, ctx, lambda w: _my_shifts(ctx, w, uid))


async def swap_button(update: Update, ctx: AppContext) -> None:
    uid = _uid(update)
    parts = _parts(update)
    verb = parts[1]
    tz = ctx.rt.timezone

    async def build(w: Work) -> Screen:
        _ = w._
        if verb == "l":
            return await _my_shifts(ctx, w, uid)
        if verb == "p":
            v, free = await roster.swap_candidates(ctx.rt, w.session, uid, int(parts[2]))
            back = [Button(_("⬅️ My shifts"), "sw:l")]
            if not free:
                text = _("Nobody else of your grid is free then: {shift}.").format(
                    shift=v.label(_, tz)
                )
                return text, [back]
            buttons = [Button(c.name, f"sw:r:{v.id}:{c.id}") for c in free]
            rows = [buttons[i : i + 2] for i in range(0, len(buttons), 2)] + [back]
            return _("Who should take your shift {shift}?").format(shift=v.label(_, tz)), rows
        if verb == "r":
            sw = await roster.request_swap(ctx.rt, w.session, uid, int(parts[2]), int(parts[3]))
            text = _("🔁 I asked {name} to take your shift: {shift}. I will tell you the answer.")
            return text.format(name=sw.to_name, shift=sw.shift.label(_, tz)), [
                [Button(_("⬅️ My shifts"), "sw:l")]
            ]
        if verb == "a":
            sw = await roster.accept_swap(ctx.rt, w.session, uid, int(parts[2]))
            text = _(
                "✅ You took the shift from {name}: {shift}, {grid}. "
                "I will remind you before it starts."
            )
            return text.format(
                name=sw.from_name, shift=sw.shift.label(_, tz), grid=sw.shift.grid
            ), []
        sw = await roster.decline_swap(ctx.rt, w.session, uid, int(parts[2]))
        text = _("You declined to take the shift {shift}; {name} has been told.")
        return text.format(name=sw.from_name, shift=sw.shift.label(_, tz)), []

    await _show(update, ctx, build)


def roster_handlers() -> list[Any]:
    private = filters.ChatType.PRIVATE
    day = DAY
    tmpl = r"\w{1,16}"  # a shift template of the config (checked by the roster service)
    num = ID
    return [
        CommandHandler("roster", roster_command, filters=private),
        CommandHandler("shifts", shifts_command, filters=private),
        CallbackQueryHandler(
            roster_button,
            pattern=(
                rf"^r:(l|g:{num}|d:{num}:{day}|t:{num}:{day}:{tmpl}"
                rf"|v:{num}:{day}:{tmpl}:{num}:[01])$"
            ),
        ),
        CallbackQueryHandler(
            swap_button, pattern=rf"^sw:(l|p:{num}|r:{num}:{num}|a:{num}|n:{num})$"
        ),
    ]
