"""The care list by buttons (staff, private chat): browse compound → building → household
(``cr:browse:0``, ``cr:cmp:<compound>``, ``cr:bld:<building>``), choose the responsible person
from the people in scope (``cr:who:<resident>`` shows them, ``cr:as:<resident>:<key>`` names
one), and end home isolation after a few days with one press (``cr:isod:<resident>:<days>``).
The typed search and the typed isolation date are the care conversation's (handlers/care.py).

Every press re-checks the staff member's scope on the server (bot/services/care_browse.py)."""

from __future__ import annotations

from datetime import timedelta
from typing import Any

from telegram import Update

from bot.buttons import Button, Rows
from bot.errors import STALE, Refused
from bot.i18n import N_, Gettext
from bot.services import care, care_browse
from handlers.answers import answer, edit_or_send, is_private, pressed
from handlers.callback_data import ID, Callback, matching, one_of
from handlers.context import AppContext
from handlers.keyboards import inline
from handlers.work import Work, attempt

BROWSE = Callback("cr", "browse", "0")
COMPOUND = Callback("cr", "cmp", compound_id=ID)
BUILDING = Callback("cr", "bld", building_id=ID)
PICK = Callback("cr", "as", resident_id=ID, key=matching(f"none|[sv]{ID.regex}"))
ISO_DAYS = Callback("cr", "isod", resident_id=ID, days=one_of(care_browse.ISO_DAYS))
SEARCH = Callback("cr", "find", "0")
LIST = Callback("cr", "list", "0")
OPEN = Callback("cr", "open", resident_id=ID)

CHOOSE_COMPOUND = N_("Which compound?")
CHOOSE_BUILDING = N_("{compound}: which building?")
CHOOSE_HOUSEHOLD = N_("{building}: {n} households registered. ⭐ = on the care list.")
NO_HOUSEHOLDS = N_("{building}: no household has registered with the bot yet.")
NO_COMPOUNDS = N_("Your grids have no buildings yet. /setup imports them.")
CHOOSE_WHO = N_(
    "Who looks after {name} (包保责任人)? The people of {grid}: staff and approved volunteers. "
    "They are told at once, with the household's address and phone."
)
NOBODY_TO_NAME = N_(
    "{grid} has no staff member or approved volunteer yet who could look after {name}."
)
FOUND = N_("Found {n} households; choose one:")
MORE = N_("(only the first {n}; type more detail to narrow it down)")
BROWSE_LABEL = N_("🏘 Browse by building")
SEARCH_LABEL = N_("🔎 Search: phone or room")
BACK = N_("↩️ Back")
NOBODY = N_("✖️ Nobody")
ME = N_("(me)")
STAFF_WORD = N_("staff")
VOLUNTEER_WORD = N_("volunteer")
DAYS = N_("{n} days")


def navigation(_: Gettext) -> Rows:
    """The two ways to a household, under the care list."""
    return [
        [Button(_(BROWSE_LABEL), BROWSE.data()), Button(_(SEARCH_LABEL), SEARCH.data())],
    ]


def household_rows(homes: list[care.Household], _: Gettext) -> Rows:
    return [
        [
            Button(
                ("⭐ " if care_browse.on_list(h) else "")
                + f"{h.building} {h.unit}-{h.room} {h.name}"[:60],
                OPEN.data(resident_id=h.resident_id),
            )
        ]
        for h in homes[: care_browse.MOST]
    ]


def found(homes: list[care.Household], _: Gettext) -> tuple[str, Rows]:
    """Several households matched: each a button (more than fit: ask for more detail)."""
    text = _(FOUND).format(n=min(len(homes), care_browse.MOST))
    if len(homes) > care_browse.MOST:
        text += "\n" + _(MORE).format(n=care_browse.MOST)
    return text, household_rows(homes, _)


async def _show(update: Update, ctx: AppContext, screen: Any, card: Any = None) -> None:
    """The screen ``screen`` builds, in place of the pressed message. Refused with a household
    ``card`` (naming someone no longer eligible, a household changed meanwhile): the message
    shows the household's card as it is now, if it is still the staff member's."""
    q = pressed(update)

    async def private_screen(w: Work) -> tuple[str, Rows]:
        if not is_private(update):
            raise Refused(STALE)
        result: tuple[str, Rows] = await screen(w, q.from_user.id)
        return result

    shown = await attempt(update, ctx, private_screen)
    if shown is not None:
        await answer(q)
        await edit_or_send(update, shown[0], inline(shown[1]))
    elif card is not None and is_private(update):
        rid = int(str(q.data).split(":")[2])  # cr:as:<resident>:… and cr:isod:<resident>:…
        async with ctx.rt.db.read() as s:
            try:
                h = await care.household(ctx.rt, s, q.from_user.id, rid)
            except Refused:
                return  # no longer theirs: the alert said so
        text, rows = card(h, await ctx.gettext(), ctx.rt.timezone)
        await edit_or_send(update, text, inline(rows))


async def browsed(update: Update, ctx: AppContext) -> None:
    """cr:browse:0: the compounds of the staff member's grids."""

    async def screen(w: Work, uid: int) -> tuple[str, Rows]:
        items = await care_browse.compounds(w.session, uid)
        if not items:
            return w._(NO_COMPOUNDS), [[Button(w._(BACK), LIST.data())]]
        rows: Rows = [
            [Button(f"{c.label} ({c.count})", COMPOUND.data(compound_id=c.id))] for c in items
        ]
        rows.append([Button(w._(BACK), LIST.data())])
        return w._(CHOOSE_COMPOUND), rows

    await _show(update, ctx, screen)


async def compound_chosen(update: Update, ctx: AppContext) -> None:
    """cr:cmp:<compound>: its buildings in the staff member's grids."""
    compound_id = COMPOUND.parse(pressed(update).data).compound_id

    async def screen(w: Work, uid: int) -> tuple[str, Rows]:
        items = await care_browse.buildings(w.session, uid, compound_id)
        if not items:
            raise Refused(STALE)
        rows: Rows = []
        for i in range(0, len(items), 2):  # two a row: a compound has many buildings
            rows.append(
                [
                    Button(f"{b.label} ({b.count})", BUILDING.data(building_id=b.id))
                    for b in items[i : i + 2]
                ]
            )
        rows.append([Button(w._(BACK), BROWSE.data())])
        compound = items[0].label.rsplit(" ", 1)[0]
        return w._(CHOOSE_BUILDING).format(compound=compound), rows

    await _show(update, ctx, screen)


async def building_chosen(update: Update, ctx: AppContext) -> None:
    """cr:bld:<building>: its households, those on the care list starred."""
    building_id = BUILDING.parse(pressed(update).data).building_id

    async def screen(w: Work, uid: int) -> tuple[str, Rows]:
        items = await care_browse.building_in_scope(w.session, uid, building_id)
        homes = await care_browse.in_building(ctx.rt, w.session, uid, building_id)
        back = [Button(w._(BACK), COMPOUND.data(compound_id=items.compound_id))]
        if not homes:
            return w._(NO_HOUSEHOLDS).format(building=items.label), [back]
        text = w._(CHOOSE_HOUSEHOLD).format(building=items.label, n=len(homes))
        if len(homes) > care_browse.MOST:
            text += "\n" + w._(MORE).format(n=care_browse.MOST)
        return text, [*household_rows(homes, w._), back]

    await _show(update, ctx, screen)


async def who_asked(update: Update, ctx: AppContext) -> None:
    """cr:who:<resident>: the people who may look after this household, as buttons."""
    rid = int(str(pressed(update).data).rsplit(":", 1)[1])

    async def screen(w: Work, uid: int) -> tuple[str, Rows]:
        h = await care.household(ctx.rt, w.session, uid, rid)
        people = await care_browse.candidates(ctx.rt, w.session, uid, rid)
        _ = w._
        rows: Rows = []
        for c in people:
            mark = "✔️ " if c.telegram_id == h.responsible_telegram_id else "👤 "
            role = _(STAFF_WORD) if c.staff else _(VOLUNTEER_WORD)
            me = " " + _(ME) if c.telegram_id == uid else ""
            rows.append(
                [Button(f"{mark}{c.name}{me} · {role}", PICK.data(resident_id=rid, key=c.key))]
            )
        if h.responsible_telegram_id is not None:
            rows.append([Button(_(NOBODY), PICK.data(resident_id=rid, key="none"))])
        rows.append([Button(_(BACK), OPEN.data(resident_id=rid))])
        if not people:
            return _(NOBODY_TO_NAME).format(grid=h.grid, name=h.name), rows
        return _(CHOOSE_WHO).format(name=h.name, grid=h.grid), rows

    await _show(update, ctx, screen)


async def picked(update: Update, ctx: AppContext, card: Any) -> None:
    """cr:as:<resident>:<key>: that person named (or nobody); the household's card again."""
    values = PICK.parse(pressed(update).data)

    async def screen(w: Work, uid: int) -> tuple[str, Rows]:
        h = await care_browse.assign(ctx.rt, w.session, uid, values.resident_id, values.key)
        text, rows = card(h, w._, ctx.rt.timezone)
        return w._("Saved ✓") + "\n\n" + text, rows

    await _show(update, ctx, screen, card)


async def iso_days(update: Update, ctx: AppContext, card: Any) -> None:
    """cr:isod:<resident>:<days>: home isolation for that many days from today."""
    values = ISO_DAYS.parse(pressed(update).data)

    async def screen(w: Work, uid: int) -> tuple[str, Rows]:
        until = (ctx.rt.today() + timedelta(days=int(values.days))).isoformat()
        h = await care.set_isolation(ctx.rt, w.session, uid, values.resident_id, until)
        text, rows = card(h, w._, ctx.rt.timezone)
        return w._("Saved ✓") + "\n\n" + text, rows

    await _show(update, ctx, screen, card)


def iso_rows(rid: int, _: Gettext) -> Rows:
    return [
        [
            Button(_(DAYS).format(n=n), ISO_DAYS.data(resident_id=rid, days=n))
            for n in care_browse.ISO_DAYS
        ]
    ]


def browse_handlers() -> list[Any]:
    return [
        BROWSE.handler(browsed),
        COMPOUND.handler(compound_chosen),
        BUILDING.handler(building_chosen),
    ]
