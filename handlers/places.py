"""Staff's view of a community's distribution points and checkpoints with the buildings each
serves and their status (/places, 🏢 Buildings & points), and setting a building's status:
by buttons from now (✏️ a place → a building, or all of its buildings → a status), or typed
for a later time (/setstatus CODE STATUS [time]). Residents are told by the service, through
the notices."""

from __future__ import annotations

import re
from typing import Any

from telegram import Update
from telegram.ext import CommandHandler, filters

from bot.buttons import Button, Rows
from bot.errors import Refused
from bot.i18n import N_, P_, Gettext, local_time, ngettext
from bot.limits import chunks
from bot.services import building_status, places
from bot.services.notices.text import parse_when
from handlers.answers import answer, edit_or_send, pressed
from handlers.callback_data import ID, Callback, matching
from handlers.context import AppContext
from handlers.keyboards import inline
from handlers.work import attempt

# ✏️ a place → its buildings (building_id 0: all of them) → a status, from now.
PLACE = Callback("bs", "p", place_id=ID)
BUILDING = Callback("bs", "b", place_id=ID, building_id=ID)
SET = Callback("bs", "s", place_id=ID, building_id=ID, status=matching("[a-z0-9_]{1,32}"))
DROP = Callback("bs", "x")

SETSTATUS_USAGE = N_(
    "To set a building's status by typing: /setstatus BUILDING_CODE STATUS, e.g. /setstatus "
    "{code} {label}; from a later time: /setstatus {code} {label} 2026-12-02 08:00 (or 08:00 "
    "for today); several buildings: codes joined by commas. The statuses: {labels}. "
    "/setstatus {code} cancel cancels the changes set for later."
)

TOLD = P_(
    "✅ {building} is {status} from now. {n} household was told the rules.",
    "✅ {building} is {status} from now. {n} households were told the rules.",
)

CANCELLED = P_(
    "{building}: {n} status change set for later was cancelled.",
    "{building}: {n} status changes set for later were cancelled.",
)
CANCEL_WORDS = ("cancel", "取消")


def _labels(ctx: AppContext, code: str) -> list[str]:
    return [s.label for s in ctx.rt.settings.building_status.of(code)]


def _building(ctx: AppContext, code: str, b: places.BuildingLine, _: Gettext) -> str:
    line = f"  · {b.name} ({b.code})"
    sdef = ctx.rt.settings.building_status.get(code, b.status)
    if b.status is not None and b.status_since is not None:
        label = sdef.label if sdef else b.status
        since = local_time(b.status_since, ctx.rt.timezone, "%m-%d %H:%M")
        line += ": " + _("{status} since {when}").format(status=label, when=since)
    for label, at in b.pending:
        when = local_time(at, ctx.rt.timezone, "%m-%d %H:%M")
        line += " · " + _("🕘 {status} from {when}").format(status=label, when=when)
    return line


async def places_command(update: Update, ctx: AppContext) -> None:
    """/places: each community's places, the buildings each serves and their status."""
    assert update.effective_user is not None and update.effective_chat is not None
    uid = update.effective_user.id
    found = await attempt(update, ctx, lambda w: places.in_scope(w.session, uid), write=False)
    if found is None:
        return
    _ = await ctx.gettext()
    lines: list[str] = []
    for comm, views in found:
        lines.append(f"🏘 {comm.name}")
        for v in views:
            if v.place is None:
                lines.append(_("No distribution point or checkpoint:"))
            else:
                lines.append(places.place_line(v.place, _))
            lines += [_building(ctx, comm.code, b, _) for b in v.buildings]
        lines.append("")
    if not lines:
        await update.effective_chat.send_message(_("No buildings in your scope yet."))
        return
    labels = _labels(ctx, found[0][0].code)
    code = next((b.code for _c, views in found for v in views for b in v.buildings), _("CODE"))
    lines.append(_(SETSTATUS_USAGE).format(code=code, label=labels[0], labels="、".join(labels)))
    lines.append(
        _(
            "Places are imported from a CSV file with the header "
            "community_code,place,kind,location,pickup_times,buildings: send it here, or run "
            "`paotui places import FILE`."
        )
    )
    rows: Rows = [
        [Button("✏️ " + v.place.name, PLACE.data(place_id=v.place.id))]
        for _comm, views in found
        for v in views
        if v.place is not None and v.buildings
    ]
    parts = chunks(lines)
    for i, text in enumerate(parts):
        last = i == len(parts) - 1
        await update.effective_chat.send_message(text, reply_markup=inline(rows) if last else None)


async def setstatus_command(update: Update, ctx: AppContext) -> None:
    """/setstatus CODE[,CODE…] STATUS [YYYY-MM-DD HH:MM | HH:MM], or CODE 取消."""
    assert update.effective_user is not None and update.effective_chat is not None
    uid = update.effective_user.id
    args = list(ctx.args or [])
    _ = await ctx.gettext()
    if len(args) < 2:
        labels = [s.label for s in ctx.rt.settings.building_status.statuses]
        await update.effective_chat.send_message(
            _(SETSTATUS_USAGE).format(code=_("CODE"), label=labels[0], labels="、".join(labels))
        )
        return
    # Several buildings at once: /setstatus xf1,xf2,xf3 封控区 (all or none).
    codes = [c for c in re.split(r"[,，、;；]", args[0]) if c]
    word, when = args[1], " ".join(args[2:])
    rt = ctx.rt
    if word.lower() in CANCEL_WORDS and not when:

        async def cancel(w: Any) -> list[tuple[str, int]]:
            return [await building_status.cancel_pending(rt, w.session, uid, c) for c in codes]

        done = await attempt(update, ctx, cancel)
        if done is not None:
            await update.effective_chat.send_message(
                "\n".join(ngettext(_, CANCELLED, n).format(building=b, n=n) for b, n in done)
            )
        return

    async def do(w: Any) -> list[building_status.Change]:
        at = parse_when(when, rt.clock.now(), rt.timezone) if when else None
        return [await building_status.set_status(rt, w.session, uid, c, word, at) for c in codes]

    changes = await attempt(update, ctx, do)
    if changes is None:
        return
    _ = await ctx.gettext()
    await update.effective_chat.send_message("\n".join(_said(c, rt.timezone, _) for c in changes))


def _said(change: building_status.Change, tz: str, _: Gettext) -> str:
    if change.applied:
        text = ngettext(_, TOLD, change.told).format(
            building=change.building, status=change.label, n=change.told
        )
    else:
        text = _("🕘 {building} becomes {status} at {when}. Its households are told then.").format(
            building=change.building,
            status=change.label,
            when=local_time(change.effective_at, tz, "%Y-%m-%d %H:%M"),
        )
    if change.pickup_without_place:
        text += "\n" + _(
            "⚠️ No distribution point serves this building: its errands still go to the door."
        )
    return text


async def place_chosen(update: Update, ctx: AppContext) -> None:
    """✏️ a place: its buildings (and all of them at once) to choose from."""
    q = pressed(update)
    place_id = PLACE.parse(q.data).place_id
    rt, uid = ctx.rt, q.from_user.id
    got = await attempt(
        update,
        ctx,
        lambda w: building_status.place_buildings(rt, w.session, uid, place_id),
        write=False,
    )
    if got is None:
        return
    place, _statuses, buildings = got
    _ = await ctx.gettext()
    rows: Rows = [
        [Button(f"{name} · {label or '—'}", BUILDING.data(place_id=place_id, building_id=bid))]
        for bid, name, label, _code in buildings
    ]
    rows.append(
        [
            Button(
                ngettext(_, ALL_BUILDINGS, len(buildings)).format(n=len(buildings)),
                BUILDING.data(place_id=place_id, building_id=0),
            )
        ]
    )
    rows.append([Button(_("✖️ Cancel"), DROP.data())])
    await answer(q)
    assert update.effective_chat is not None
    await update.effective_chat.send_message(
        _("{place}: which building's status?").format(place=place.name), reply_markup=inline(rows)
    )


async def building_chosen(update: Update, ctx: AppContext) -> None:
    """A building (or all of the place's): the statuses to choose from."""
    q = pressed(update)
    v = BUILDING.parse(q.data)
    rt, uid = ctx.rt, q.from_user.id
    got = await attempt(
        update,
        ctx,
        lambda w: building_status.place_buildings(rt, w.session, uid, v.place_id),
        write=False,
    )
    if got is None:
        return
    _place, statuses, buildings = got
    _ = await ctx.gettext()
    chosen = [(name, code) for bid, name, _l, code in buildings if v.building_id in (0, bid)]
    names, codes = [n for n, _c in chosen], [c for _n, c in chosen]
    if not names:
        await answer(q)
        await edit_or_send(update, _(building_status.NOT_YOURS), None)
        return
    rows: Rows = [
        [
            Button(
                f"{s.label} · {_(DELIVERY[s.delivery])}" + ("" if s.errands else " · 🚫"),
                SET.data(place_id=v.place_id, building_id=v.building_id, status=s.key),
            )
        ]
        for s in statuses
    ]
    rows.append([Button(_("✖️ Cancel"), DROP.data())])
    await answer(q)
    await edit_or_send(
        update,
        _("New status from now for: {buildings}").format(buildings="、".join(names))
        + "\n"
        + _("(From a later time: type /setstatus {code} STATUS 2026-12-02 08:00.)").format(
            code=codes[0] if len(codes) == 1 else _("CODE")
        ),
        inline(rows),
    )


async def status_chosen(update: Update, ctx: AppContext) -> None:
    """The status: set from now for the building(s); their residents are told."""
    q = pressed(update)
    v = SET.parse(q.data)
    rt, uid = ctx.rt, q.from_user.id

    async def do(w: Any) -> list[building_status.Change]:
        _p, _s, buildings = await building_status.place_buildings(rt, w.session, uid, v.place_id)
        ids = [bid for bid, _n, _l, _c in buildings if v.building_id in (0, bid)]
        if not ids:
            raise Refused(building_status.NOT_YOURS)
        return await building_status.set_many(rt, w.session, uid, ids, v.status)

    changes = await attempt(update, ctx, do)
    if changes is None:
        return
    _ = await ctx.gettext()
    await answer(q)
    lines = [
        ngettext(_, TOLD, c.told).format(building=c.building, status=c.label, n=c.told)
        for c in changes
    ]
    await edit_or_send(update, "\n".join(lines), None)


async def dropped(update: Update, ctx: AppContext) -> None:
    q = pressed(update)
    _ = await ctx.gettext()
    await answer(q)
    await edit_or_send(update, _("No status was changed."), None)


DELIVERY = {"door": N_("to the door"), "pickup": N_("pick up at the point")}
ALL_BUILDINGS = P_("🏢 Its {n} building", "🏢 All its {n} buildings")


def places_handlers() -> list[Any]:
    private = filters.ChatType.PRIVATE
    return [
        CommandHandler("places", places_command, filters=private),
        CommandHandler("setstatus", setstatus_command, filters=private),
        PLACE.handler(place_chosen),
        BUILDING.handler(building_chosen),
        SET.handler(status_chosen),
        DROP.handler(dropped),
    ]
