"""The care list (包保) in Telegram: staff keep it with /care (private chat); households on it
answer the daily check-in with its buttons (c:ok|need|call:<check id>).

Staff buttons are cr:<verb>:<resident id>[:<flag>]; every press re-checks the staff member's
scope on the server.
"""

from __future__ import annotations

from datetime import timedelta
from typing import Any

from telegram import Update
from telegram.ext import (
    CallbackQueryHandler,
    CommandHandler,
    ConversationHandler,
    MessageHandler,
    TypeHandler,
    filters,
)

from bot.buttons import Button, Rows
from bot.errors import Refused
from bot.i18n import N_, Gettext, local_time
from bot.services import care, care_checkins
from handlers.callback_data import ID, one_of
from handlers.common import (
    PRIVATE_TEXT,
    STALE,
    alert,
    answer,
    edit_or_send,
    inline,
    is_private,
    main_menu,
    translator,
    unit_of_work,
)
from handlers.context import AppContext

WAIT_WHO, WAIT_ISO = 40, 41
KEY = "care_resident_id"

USAGE = N_(
    "/care lists the care list of your grids. /care <phone> or /care <building> <unit> <room> "
    "(for example /care 1栋 1 101) opens one household: mark it, name who is responsible "
    "(包保责任人), set a home-isolation period."
)
EMPTY = N_("Nobody is on the care list of your grids yet.")
TITLE = N_("⭐ Care list ({n}):")
ASK_WHO = N_(
    "Who is responsible for {name}? Send their Telegram id (staff or an approved volunteer; "
    "they must have talked to the bot to get alerts), or “me”. /cancel to stop."
)
ASK_ISO = N_(
    "Home isolation (居家隔离) of {name} until which day? Send a date like {example}, or "
    "“clear”. /cancel to stop."
)
STOPPED = N_("Stopped. Nothing was changed.")


def _today_line(h: care.Household, _: Gettext, tz: str) -> str:
    if h.check_id is None:
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
        f"📍 {h.address} ({h.grid})",
        _("Care flags: {flags}").format(flags=care.flags_label(h.flags, _)),
        _("Responsible (包保责任人): {who}").format(who=_who(h, _)),
        _("Home isolation (居家隔离): {until}").format(until=iso),
        _today_line(h, _, tz),
    ]
    rid = h.resident_id
    flag_buttons = [
        Button(("☑️ " if f in h.flags else "⬜ ") + _(label), f"cr:flag:{rid}:{f}")
        for f, label in care.FLAGS.items()
    ]
    rows: Rows = [flag_buttons[:2], flag_buttons[2:]]
    rows.append([Button(_("👤 Responsible"), f"cr:who:{rid}")])
    iso_row = [Button(_("🏠 Isolation until"), f"cr:iso:{rid}")]
    if h.isolation_until:
        iso_row.append(Button(_("✖️ End isolation"), f"cr:isox:{rid}"))
    rows.append(iso_row)
    rows.append([Button(_("⭐ Care list"), "cr:list:0")])
    return "\n".join(lines), rows


def _listing(homes: list[care.Household], _: Gettext, tz: str) -> tuple[str, Rows]:
    if not homes:
        return _(EMPTY) + "\n\n" + _(USAGE), []
    lines = [_(TITLE).format(n=len(homes))]
    rows: Rows = []
    for h in homes[:40]:
        lines.append("• " + _line(h, _, tz))
        rows.append(
            [
                Button(
                    f"⭐ {h.name} · {h.building} {h.unit}-{h.room}"[:60], f"cr:open:{h.resident_id}"
                )
            ]
        )
    lines += ["", _(USAGE)]
    return "\n".join(lines), rows


async def care_command(update: Update, ctx: AppContext) -> None:
    """/care: the list; /care <phone | building unit room>: one household."""
    msg, user = update.effective_message, update.effective_user
    assert msg is not None and user is not None
    query = " ".join(ctx.args or [])
    try:
        async with unit_of_work(update, ctx) as w:
            _ = w._
            if query:
                rid = await care.find(w.session, user.id, query)
                text, rows = _card(
                    await care.household(ctx.rt, w.session, user.id, rid), _, ctx.rt.timezone
                )
            else:
                homes = await care.care_list(ctx.rt, w.session, user.id)
                text, rows = _listing(homes, _, ctx.rt.timezone)
    except Refused as e:
        await msg.reply_text(e.render(_))
        return
    await msg.reply_text(text, reply_markup=inline(rows))


def _ids(data: str) -> tuple[str, int, str | None]:
    parts = data.split(":")
    return parts[1], int(parts[2]), parts[3] if len(parts) > 3 else None


async def staff_pressed(update: Update, ctx: AppContext) -> None:
    """cr:open|flag|isox|list: every press re-checks the staff member's scope."""
    q = update.callback_query
    assert q is not None and q.data is not None
    verb, rid, arg = _ids(q.data)
    try:
        async with unit_of_work(update, ctx) as w:
            _ = w._
            if not is_private(update):
                raise Refused(STALE)
            if verb == "list":
                text, rows = _listing(
                    await care.care_list(ctx.rt, w.session, q.from_user.id), _, ctx.rt.timezone
                )
            else:
                if verb == "flag":
                    h = await care.toggle_flag(ctx.rt, w.session, q.from_user.id, rid, arg or "")
                elif verb == "isox":
                    h = await care.set_isolation(ctx.rt, w.session, q.from_user.id, rid, "clear")
                else:
                    h = await care.household(ctx.rt, w.session, q.from_user.id, rid)
                text, rows = _card(h, _, ctx.rt.timezone)
    except Refused as e:
        await alert(update, e.render(_))
        return
    await answer(q)
    await edit_or_send(update, text, inline(rows))


async def ask_input(update: Update, ctx: AppContext) -> int | None:
    """👤 or 🏠: may this staff member change this household? Then ask for the value."""
    q = update.callback_query
    assert q is not None and q.data is not None and ctx.user_data is not None
    verb, rid, _arg = _ids(q.data)
    _ = await translator(update, ctx)
    try:
        async with ctx.rt.db.read() as s:
            if not is_private(update):
                raise Refused(STALE)
            h = await care.household(ctx.rt, s, q.from_user.id, rid)
    except Refused as e:
        await alert(update, e.render(_))
        return None
    ctx.user_data[KEY] = rid
    await answer(q)
    assert update.effective_chat is not None
    if verb == "who":
        await update.effective_chat.send_message(_(ASK_WHO).format(name=h.name))
        return WAIT_WHO
    example = ctx.rt.today() + timedelta(days=7)
    await update.effective_chat.send_message(
        _(ASK_ISO).format(name=h.name, example=example.isoformat())
    )
    return WAIT_ISO


async def _typed(update: Update, ctx: AppContext, verb: str) -> int:
    msg, user = update.effective_message, update.effective_user
    assert msg is not None and user is not None and ctx.user_data is not None
    rid = ctx.user_data.get(KEY)
    state = WAIT_WHO if verb == "who" else WAIT_ISO
    try:
        async with unit_of_work(update, ctx) as w:
            _ = w._
            if rid is None:
                raise Refused(STALE)
            change = care.assign if verb == "who" else care.set_isolation
            h = await change(ctx.rt, w.session, user.id, rid, msg.text or "")
    except Refused as e:
        await msg.reply_text(e.render(_))
        if e.message in (care.NOT_HELPER, care.NOT_HERE, care.BAD_DATE, care.PAST_DATE):
            return state  # they can try again
        ctx.user_data.pop(KEY, None)
        return ConversationHandler.END
    ctx.user_data.pop(KEY, None)
    text, rows = _card(h, _, ctx.rt.timezone)
    await msg.reply_text(_("Saved ✓") + "\n\n" + text, reply_markup=inline(rows))
    return ConversationHandler.END


async def who_typed(update: Update, ctx: AppContext) -> int:
    return await _typed(update, ctx, "who")


async def iso_typed(update: Update, ctx: AppContext) -> int:
    return await _typed(update, ctx, "iso")


async def stop(update: Update, ctx: AppContext) -> int:
    _ = await translator(update, ctx)
    if ctx.user_data is not None:
        ctx.user_data.pop(KEY, None)
    if update.effective_message:
        await update.effective_message.reply_text(_(STOPPED))
    return ConversationHandler.END


async def timed_out(update: object, ctx: AppContext) -> None:
    if ctx.user_data is not None:
        ctx.user_data.pop(KEY, None)


def build_care_conversation(timeout_s: float) -> ConversationHandler[AppContext]:
    entry = [CallbackQueryHandler(ask_input, pattern=rf"^cr:(who|iso):{ID}$")]
    return ConversationHandler(
        entry_points=entry,
        states={
            WAIT_WHO: [MessageHandler(PRIVATE_TEXT, who_typed)],
            WAIT_ISO: [MessageHandler(PRIVATE_TEXT, iso_typed)],
            ConversationHandler.TIMEOUT: [TypeHandler(Update, timed_out)],
        },
        fallbacks=[CommandHandler("cancel", stop), *entry],
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


async def check_in_pressed(update: Update, ctx: AppContext) -> None:
    """c:ok|need|call:<check id>: only the household asked, only today, first answer counts."""
    q = update.callback_query
    assert q is not None and q.data is not None
    _, verb, raw = q.data.split(":")
    try:
        async with unit_of_work(update, ctx) as w:
            tr = w._
            if not is_private(update):
                raise Refused(STALE)
            res = await care_checkins.answer(ctx.rt, w.session, q.from_user.id, int(raw), verb)
    except Refused as e:
        await alert(update, e.render(tr))
        return
    label = tr(care_checkins.ANSWER_LABEL[res.answer])
    if res.first:
        await answer(q)
    else:
        await answer(q, tr(ALREADY).format(answer=label), True)
    await edit_or_send(update, tr(care_checkins.ASK) + "\n" + label, None)
    if res.first and update.effective_chat:
        markup = main_menu(tr) if res.answer == care_checkins.NEED else None
        await update.effective_chat.send_message(tr(REPLY[res.answer]), reply_markup=markup)


def care_handlers() -> list[Any]:
    return [
        CommandHandler("care", care_command, filters=filters.ChatType.PRIVATE),
        CallbackQueryHandler(check_in_pressed, pattern=rf"^c:{one_of(care_checkins.VERBS)}:{ID}$"),
        CallbackQueryHandler(
            staff_pressed,
            pattern=rf"^cr:(open:{ID}|isox:{ID}|list:0|flag:{ID}:{one_of(care.FLAGS)})$",
        ),
    ]
