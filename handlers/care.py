"""The care list (包保) in Telegram: staff keep it with /care (private chat); households on it
answer the daily check-in with its buttons (c:ok|need|call:<check id>).

Staff buttons are cr:<verb>:<resident id>[:<flag>]; every press re-checks the staff member's
scope on the server. Browsing, choosing the responsible person and the isolation buttons are
handlers/care_browse.py; the typed search and the typed isolation date are this conversation.
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from datetime import timedelta
from typing import Any

from telegram import Update
from telegram.ext import CommandHandler, ConversationHandler, MessageHandler, filters

from bot.buttons import Button, Rows
from bot.errors import STALE, Refused
from bot.i18n import N_, Gettext, local_time
from bot.services import care, care_checkins, typed_days
from bot.services import care_browse as care_browse_service
from handlers import care_browse
from handlers.answers import alert, answer, edit_or_send, is_private, pressed, pressed_label
from handlers.callback_data import ID, Callback, one_of
from handlers.context import AppContext
from handlers.conversation_exits import Handler, conversation_exits
from handlers.keyboards import PRIVATE_TEXT, inline, main_menu
from handlers.work import Work, attempt, unit_of_work

WAIT_ISO, WAIT_FIND = 41, 42
KEY = "care_resident_id"

CHECK_IN = Callback("c", answer=one_of(care_checkins.VERBS), check_id=ID)
OPEN = care_browse.OPEN
FLAG = Callback("cr", "flag", resident_id=ID, flag=one_of(care.FLAGS))
END_ISOLATION = Callback("cr", "isox", resident_id=ID)
LIST = care_browse.LIST
ASK = Callback("cr", field=one_of(("who", "iso")), resident_id=ID)

USAGE = N_(
    "Open a household with the buttons below: browse by building, or search by phone or room. "
    "On its card: mark it, name who looks after it (包保责任人), set a home-isolation period."
)
ASK_FIND = N_(
    "Type the phone number (or its last digits), the room (101), or building, unit and room "
    "(1栋 1 101). /cancel stops."
)
EMPTY = N_("Nobody is on the care list of your grids yet.")
TITLE = N_("⭐ Care list ({n}):")
ASK_ISO = N_(
    "Home isolation (居家隔离) of {name}: for how long? Press a button, or type the last day "
    "(e.g. {example}, 12月8日) or a number of days. /cancel stops."
)
STOPPED = N_("Stopped. Nothing was changed.")


def _today_line(h: care.Household, _: Gettext, tz: str) -> str:
    if h.check_id is None or h.asked_at is None:
        return _("today: not asked yet")
    if h.answer:
        return _("today: {answer}").format(answer=_(care_checkins.ANSWER_LABEL[h.answer]))
    line = _("today: asked {time}, no answer yet").format(time=local_time(h.asked_at, tz))
    return line + (" ⚠️" if h.alerted_at else "")


def _who(h: care.Household, _: Gettext) -> str:
    if h.responsible_telegram_id is None:
        return _("nobody named")
    return f"{h.responsible or ''} ({h.responsible_telegram_id})".strip()


def _line(h: care.Household, _: Gettext, tz: str) -> str:
    parts = [
        f"{h.name} · {h.building} {h.unit}-{h.room}",
        care.flags_label(h.flags, _),
        "👤 " + _who(h, _),
    ]
    if h.isolation_until:
        parts.append("🏠 " + _("isolation until {day}").format(day=h.isolation_until.isoformat()))
    parts.append(_today_line(h, _, tz))
    return " · ".join(parts)


def _card(h: care.Household, _: Gettext, tz: str) -> tuple[str, Rows]:
    iso = _("until {day}").format(day=h.isolation_until.isoformat()) if h.isolation_until else "—"
    lines = [
        f"⭐ {h.name} · {h.phone}",
        "📍 " + _("{name} ({grid})").format(name=h.address, grid=h.grid),
        _("Care flags: {flags}").format(flags=care.flags_label(h.flags, _)),
        _("Responsible (包保责任人): {who}").format(who=_who(h, _)),
        _("Home isolation (居家隔离): {until}").format(until=iso),
        _today_line(h, _, tz),
    ]
    rid = h.resident_id
    flag_buttons = [
        Button(("☑️ " if f in h.flags else "⬜ ") + _(label), FLAG.data(resident_id=rid, flag=f))
        for f, label in care.FLAGS.items()
    ]
    rows: Rows = [flag_buttons[:2], flag_buttons[2:]]
    rows.append([Button(_("👤 Responsible"), ASK.data(field="who", resident_id=rid))])
    iso_row = [Button(_("🏠 Isolation until"), ASK.data(field="iso", resident_id=rid))]
    if h.isolation_until:
        iso_row.append(Button(_("✖️ End isolation"), END_ISOLATION.data(resident_id=rid)))
    rows.append(iso_row)
    rows.append([Button(_("⭐ Care list"), LIST.data())])
    return "\n".join(lines), rows


def _listing(homes: list[care.Household], _: Gettext, tz: str) -> tuple[str, Rows]:
    if not homes:
        return _(EMPTY) + "\n\n" + _(USAGE), care_browse.navigation(_)
    lines = [_(TITLE).format(n=len(homes))]
    rows: Rows = []
    for h in homes[:40]:
        lines.append("• " + _line(h, _, tz))
        rows.append(
            [
                Button(
                    f"⭐ {h.name} · {h.building} {h.unit}-{h.room}"[:60],
                    OPEN.data(resident_id=h.resident_id),
                )
            ]
        )
    lines += ["", _(USAGE)]
    return "\n".join(lines), rows + care_browse.navigation(_)


async def care_command(update: Update, ctx: AppContext) -> None:
    """/care: the list; /care <phone | building unit room>: one household."""
    msg, user = update.effective_message, update.effective_user
    assert msg is not None and user is not None
    query = " ".join(ctx.args or [])

    async def screen(w: Work) -> tuple[str, Rows]:
        if query:
            return await _search(ctx, w, user.id, query)
        return _listing(await care.care_list(ctx.rt, w.session, user.id), w._, ctx.rt.timezone)

    shown = await attempt(update, ctx, screen)
    if shown is not None:
        text, rows = shown
        await msg.reply_text(text, reply_markup=inline(rows))


async def _search(ctx: AppContext, w: Work, uid: int, query: str) -> tuple[str, Rows]:
    """One household found: its card; several: a button each."""
    homes = await care_browse_service.search(ctx.rt, w.session, uid, query)
    if len(homes) == 1:
        return _card(homes[0], w._, ctx.rt.timezone)
    return care_browse.found(homes, w._)


async def search_asked(update: Update, ctx: AppContext) -> int | None:
    """cr:find:0: staff type what they know of the household."""
    q = pressed(update)
    if not is_private(update):
        _ = await ctx.gettext()
        await alert(update, _(STALE))
        return None
    await answer(q)
    _ = await ctx.gettext()
    assert update.effective_chat is not None
    await update.effective_chat.send_message(_(ASK_FIND))
    return WAIT_FIND


async def find_typed(update: Update, ctx: AppContext) -> int:
    msg, user = update.effective_message, update.effective_user
    assert msg is not None and user is not None
    shown = await attempt(update, ctx, lambda w: _search(ctx, w, user.id, msg.text or ""))
    if shown is None:
        return WAIT_FIND  # nothing found: they may type it otherwise
    await msg.reply_text(shown[0], reply_markup=inline(shown[1]))
    return ConversationHandler.END


Change = Callable[[Work, int, int], Awaitable[care.Household]]


async def _household(update: Update, ctx: AppContext, button: Callback, change: Change) -> None:
    """A staff button on one household: every press re-checks the staff member's scope."""
    q = pressed(update)
    rid = button.parse(q.data).resident_id

    async def screen(w: Work) -> tuple[str, Rows]:
        if not is_private(update):
            raise Refused(STALE)
        return _card(await change(w, q.from_user.id, rid), w._, ctx.rt.timezone)

    shown = await attempt(update, ctx, screen)
    if shown is not None:
        await answer(q)
        await edit_or_send(update, shown[0], inline(shown[1]))
    elif is_private(update):  # refused (changed meanwhile): the card as the household is now
        async with ctx.rt.db.read() as s:
            try:
                h = await care.household(ctx.rt, s, q.from_user.id, rid)
            except Refused:
                return  # not theirs (any more): the alert said so
        text, rows = _card(h, await ctx.gettext(), ctx.rt.timezone)
        await edit_or_send(update, text, inline(rows))


async def household_opened(update: Update, ctx: AppContext) -> None:
    """cr:open:<resident>: the household's card."""
    await _household(
        update, ctx, OPEN, lambda w, uid, rid: care.household(ctx.rt, w.session, uid, rid)
    )


async def isolation_ended(update: Update, ctx: AppContext) -> None:
    """cr:isox:<resident>: home isolation cleared."""
    await _household(
        update,
        ctx,
        END_ISOLATION,
        lambda w, uid, rid: care.set_isolation(ctx.rt, w.session, uid, rid, "clear"),
    )


async def flag_toggled(update: Update, ctx: AppContext) -> None:
    """cr:flag:<resident>:<flag>: a care flag ticked or unticked."""
    q = pressed(update)
    flag = FLAG.parse(q.data).flag
    # What the card showed when pressed: ⬜ offers to mark, ☑️ to unmark (see _card).
    label = pressed_label(q)
    marking = None if label is None else not label.startswith("☑️")
    await _household(
        update,
        ctx,
        FLAG,
        lambda w, uid, rid: care.toggle_flag(ctx.rt, w.session, uid, rid, flag, marking),
    )


async def listed(update: Update, ctx: AppContext) -> None:
    """cr:list:0: the care list of the staff member's grids."""
    q = pressed(update)

    async def screen(w: Work) -> tuple[str, Rows]:
        if not is_private(update):
            raise Refused(STALE)
        homes = await care.care_list(ctx.rt, w.session, q.from_user.id)
        return _listing(homes, w._, ctx.rt.timezone)

    shown = await attempt(update, ctx, screen)
    if shown is not None:
        await answer(q)
        await edit_or_send(update, shown[0], inline(shown[1]))


async def ask_input(update: Update, ctx: AppContext) -> int | None:
    """👤 or 🏠: may this staff member change this household? Then ask for the value."""
    q = pressed(update)
    values = ASK.parse(q.data)
    rid = values.resident_id
    if values.field == "who":  # chosen from a list of people in scope, not typed
        await care_browse.who_asked(update, ctx)
        return ConversationHandler.END

    async def household(w: Work) -> care.Household:
        if not is_private(update):
            raise Refused(STALE)
        return await care.household(ctx.rt, w.session, q.from_user.id, rid)

    h = await attempt(update, ctx, household, write=False)
    if h is None:
        return None
    assert ctx.user_data is not None and update.effective_chat is not None
    ctx.user_data[KEY] = rid
    await answer(q)
    _ = await ctx.gettext()
    example = ctx.rt.today() + timedelta(days=7)
    rows = care_browse.iso_rows(rid, _)
    if h.isolation_until:
        rows.append([Button(_("✖️ End isolation"), END_ISOLATION.data(resident_id=rid))])
    await update.effective_chat.send_message(
        _(ASK_ISO).format(name=h.name, example=example.isoformat()), reply_markup=inline(rows)
    )
    return WAIT_ISO


async def iso_typed(update: Update, ctx: AppContext) -> int:
    """The last day of home isolation, typed forgivingly (12月8日, 12-08, 7天)."""
    msg, user = update.effective_message, update.effective_user
    assert msg is not None and user is not None and ctx.user_data is not None
    rid = ctx.user_data.get(KEY)
    try:
        async with unit_of_work(ctx) as w:
            _ = w._
            if rid is None:
                raise Refused(STALE)
            until = typed_days.until_typed(msg.text or "", ctx.rt.today())
            h = await care.set_isolation(ctx.rt, w.session, user.id, rid, until)
    except Refused as e:
        await msg.reply_text(e.render(_))
        if e.message in (care.BAD_DATE, care.PAST_DATE):
            return WAIT_ISO  # they can try again
        ctx.user_data.pop(KEY, None)
        return ConversationHandler.END
    ctx.user_data.pop(KEY, None)
    text, rows = _card(h, _, ctx.rt.timezone)
    await msg.reply_text(_("Saved ✓") + "\n\n" + text, reply_markup=inline(rows))
    return ConversationHandler.END


async def responsible_picked(update: Update, ctx: AppContext) -> None:
    """cr:as:<resident>:<person>: named from the list (handlers/care_browse.py)."""
    await care_browse.picked(update, ctx, _card)


async def iso_days_pressed(update: Update, ctx: AppContext) -> int:
    """cr:isod:<resident>:<days>: isolation for that many days; the question is answered."""
    if ctx.user_data is not None:
        ctx.user_data.pop(KEY, None)
    await care_browse.iso_days(update, ctx, _card)
    return ConversationHandler.END


def build_care_conversation(timeout_s: float) -> ConversationHandler[AppContext]:
    entry: list[Handler] = [ASK.handler(ask_input), care_browse.SEARCH.handler(search_asked)]
    exits = conversation_exits(forget=(KEY,), stopped=STOPPED)  # a timeout: quietly
    return ConversationHandler(
        entry_points=entry,
        states={
            WAIT_ISO: [
                MessageHandler(PRIVATE_TEXT, iso_typed),
                care_browse.ISO_DAYS.handler(iso_days_pressed),
            ],
            WAIT_FIND: [MessageHandler(PRIVATE_TEXT, find_typed)],
            **exits.timeout,
        },
        fallbacks=[*exits.stop, *entry],
        name="care",
        allow_reentry=True,
        persistent=True,
        conversation_timeout=timeout_s,
    )


# --- the household's daily check-in -----------------------------------------------------------

REPLY = {
    care_checkins.FINE: N_("Thank you! Glad to hear it. Have a good day."),
    care_checkins.NEED: N_(
        "Press 📝 Order below to tell us what you need; a volunteer will bring it to your door. "
        "I have also told the person who looks after you."
    ),
    care_checkins.CALL: N_("I have told the person who looks after you. They will call you soon."),
}
ALREADY = N_("You already answered today: {answer}. Thank you.")
ANSWERED_ON = N_("{day}: {answer}")
UNANSWERED_ON = N_("{day}: not answered")


async def check_in_pressed(update: Update, ctx: AppContext) -> None:
    """c:ok|need|call:<check id>: only the household asked, only today, first answer counts."""
    q = pressed(update)
    values = CHECK_IN.parse(q.data)

    async def answered(w: Work) -> care_checkins.Answered:
        if not is_private(update):
            raise Refused(STALE)
        return await care_checkins.answer(
            ctx.rt, w.session, q.from_user.id, values.check_id, values.answer
        )

    res = await attempt(update, ctx, answered)
    if res is None:
        await _check_as_it_stands(update, ctx, values.check_id)
        return
    tr = await ctx.gettext()
    label = tr(care_checkins.ANSWER_LABEL[res.answer])
    if res.first:
        await answer(q)
    else:
        await answer(q, tr(ALREADY).format(answer=label), True)
    await edit_or_send(update, tr(care_checkins.ASK) + "\n" + label, None)
    if res.first and update.effective_chat:
        markup = main_menu(tr) if res.answer == care_checkins.NEED else None
        await update.effective_chat.send_message(tr(REPLY[res.answer]), reply_markup=markup)


async def _check_as_it_stands(update: Update, ctx: AppContext, check_id: int) -> None:
    """A refused press (an earlier day's question): the question shows that day and what was
    answered then, and loses its buttons; nothing is recorded for today."""
    if not is_private(update):
        return
    q = pressed(update)
    async with ctx.rt.db.read() as s:
        asked = await care_checkins.as_it_stands(s, q.from_user.id, check_id)
    if asked is None:  # not this household's: forged, nothing to show
        return
    tr = await ctx.gettext()
    day = asked.day.strftime("%m-%d")
    line = (
        tr(ANSWERED_ON).format(day=day, answer=tr(care_checkins.ANSWER_LABEL[asked.answer]))
        if asked.answer
        else tr(UNANSWERED_ON).format(day=day)
    )
    await edit_or_send(update, tr(care_checkins.ASK) + "\n" + line, None)


def care_handlers() -> list[Any]:
    return [
        CommandHandler("care", care_command, filters=filters.ChatType.PRIVATE),
        CHECK_IN.handler(check_in_pressed),
        OPEN.handler(household_opened),
        END_ISOLATION.handler(isolation_ended),
        LIST.handler(listed),
        FLAG.handler(flag_toggled),
        care_browse.PICK.handler(responsible_picked),
        care_browse.ISO_DAYS.handler(iso_days_pressed),
        *care_browse.browse_handlers(),
    ]
