"""🔁 Repeating errands (issue 16): set up from a finished order's card (🔁 定期下单: how often,
then the time, by buttons or typed, then how long), and listed under 📋 My orders, one message
per repeat with ⏸ / ▶️ / ✖️. The setup carries its choices in the buttons' data
(``rp:<verb>:<order id>:<rule>:<HHMM>:<days>``), so a restart loses nothing; only a typed time
is a (persistent) conversation. A list's button carries the status it showed: pressed after
the repeat changed, it does nothing and shows the repeat as it is now."""

from __future__ import annotations

from datetime import date
from typing import Any

from telegram import Update
from telegram.ext import CommandHandler, ConversationHandler, MessageHandler, filters

from bot.buttons import Button, Rows
from bot.errors import STALE, Refused
from bot.i18n import N_, Gettext, local_time
from bot.services import repeats
from bot.services.orders import texts, views
from bot.services.repeats import RepeatView
from handlers.answers import alert, answer, edit_or_send, pressed
from handlers.callback_data import DAY, ID, Callback, Field, one_of
from handlers.context import AppContext
from handlers.conversation_exits import Handler, conversation_exits
from handlers.keyboards import PRIVATE_TEXT, inline
from handlers.work import Work, attempt, reading

TYPE_TIME, TYPE_END = 60, 61
TYPING_KEY = "repeat_typing"  # (order id, rule code) while a time is being typed
END_KEY = "repeat_until"  # (order id, rule code, HH:MM) while a last day is being typed

RULE = one_of(repeats.RULES)
HHMM = Field("(?:[01][0-9]|2[0-3])[0-5][0-9]", lambda s: f"{s[:2]}:{s[2:]}")
SPAN = Field("0|7|30", int)

NEW = Callback("rp", "new", order_id=ID)
WEEKLY = Callback("rp", "wk", order_id=ID)
MONTHLY = Callback("rp", "mo", order_id=ID)
RULE_CHOSEN = Callback("rp", "r", order_id=ID, rule=RULE)
TIME_CHOSEN = Callback("rp", "t", order_id=ID, rule=RULE, at=HHMM)
TYPE = Callback("rp", "type", order_id=ID, rule=RULE)
CONFIRM = Callback("rp", "ok", order_id=ID, rule=RULE, at=HHMM, span=SPAN)
UNTIL = Callback("rp", "until", order_id=ID, rule=RULE, at=HHMM)
CONFIRM_UNTIL = Callback("rp", "okd", order_id=ID, rule=RULE, at=HHMM, until=DAY)
DROP = Callback("rp", "x")
SEEN = one_of(repeats.STATUSES)
PAUSE = Callback("rp", "pause", repeat_id=ID, seen=SEEN)
RESUME = Callback("rp", "resume", repeat_id=ID, seen=SEEN)
STOP = Callback("rp", "stop", repeat_id=ID, seen=SEEN)

# What ⏸ / ▶️ / ✖️ say when they acted.
TOASTS = {"pause": N_("Paused."), "resume": N_("Resumed."), "stop": N_("Stopped.")}
COMMON_TIMES = ("07:00", "08:00", "11:00", "12:00", "17:00", "18:00")
NOT_SET = N_("No repeat was set.")
TYPE_A_TIME = N_("Please type the time of day, for example 07:30.")


def _title(category: str, _: Gettext) -> str:
    return _(texts.CATEGORY[category])


def _drop_row(_: Gettext) -> list[Button]:
    return [Button(_("✖️ Cancel"), DROP.data())]


async def _order(update: Update, ctx: AppContext, order_id: int) -> views.OrderView | None:
    """The presser's own order, or a phone order of a household staff cover (else refused)."""
    q = pressed(update)

    async def mine(w: Work) -> views.OrderView:
        return views.view(await repeats.repeatable(w.session, order_id, q.from_user.id))

    return await attempt(update, ctx, mine, write=False)


# --- setting one up -------------------------------------------------------------------------


async def new(update: Update, ctx: AppContext) -> None:
    """rp:new on a finished order's card: how often? (A question of its own; the card stays.)"""
    q = pressed(update)
    order_id = NEW.parse(q.data).order_id
    v = await _order(update, ctx, order_id)
    if v is None:
        return
    await answer(q)
    await ask_how_often(update, ctx, v)


def how_often(v: views.OrderView, _: Gettext) -> tuple[str, Rows]:
    """The setup's first question (also after 🔁 on the form's summary: the order was just
    sent and is repeated from it)."""
    order_id = v.id
    rows: Rows = [
        [Button(_("Every day"), RULE_CHOSEN.data(order_id=order_id, rule="d"))],
        [Button(_("Every week on…"), WEEKLY.data(order_id=order_id))],
        [Button(_("Every month on…"), MONTHLY.data(order_id=order_id))],
        _drop_row(_),
    ]
    return _("🔁 Repeat {title} regularly: how often?").format(title=texts.title(v, _)), rows


async def ask_how_often(update: Update, ctx: AppContext, v: views.OrderView) -> None:
    """As a message of its own: the card it was pressed on stays."""
    text, rows = how_often(v, await ctx.gettext())
    assert update.effective_chat is not None
    await update.effective_chat.send_message(text, reply_markup=inline(rows))


async def weekly(update: Update, ctx: AppContext) -> None:
    q = pressed(update)
    order_id = WEEKLY.parse(q.data).order_id
    if await _order(update, ctx, order_id) is None:
        return
    _ = await ctx.gettext()
    await answer(q)
    days = [
        Button(_(word), RULE_CHOSEN.data(order_id=order_id, rule=f"w{i}"))
        for i, word in enumerate(repeats.WEEKDAYS)
    ]
    rows: Rows = [days[:4], days[4:], _drop_row(_)]
    await edit_or_send(update, _("On which day of the week?"), inline(rows))


async def monthly(update: Update, ctx: AppContext) -> None:
    q = pressed(update)
    order_id = MONTHLY.parse(q.data).order_id
    if await _order(update, ctx, order_id) is None:
        return
    _ = await ctx.gettext()
    await answer(q)
    days = [Button(str(d), RULE_CHOSEN.data(order_id=order_id, rule=f"m{d}")) for d in range(1, 32)]
    rows: Rows = [days[i : i + 7] for i in range(0, 31, 7)] + [_drop_row(_)]
    await edit_or_send(update, _("On which day of the month?"), inline(rows))


async def rule_chosen(update: Update, ctx: AppContext) -> None:
    """rp:r: at what time?"""
    q = pressed(update)
    values = RULE_CHOSEN.parse(q.data)
    if await _order(update, ctx, values.order_id) is None:
        return
    _ = await ctx.gettext()
    await answer(q)
    times = [
        Button(
            t, TIME_CHOSEN.data(order_id=values.order_id, rule=values.rule, at=t.replace(":", ""))
        )
        for t in COMMON_TIMES
    ]
    rows: Rows = [
        times[:3],
        times[3:],
        [Button(_("⌨️ Another time"), TYPE.data(order_id=values.order_id, rule=values.rule))],
        _drop_row(_),
    ]
    await edit_or_send(update, _("At what time?"), inline(rows))


async def _confirm_screen(
    update: Update, ctx: AppContext, order_id: int, rule_code: str, at: str
) -> tuple[str, Rows] | None:
    """How long, with when the first one would be (None: refused, the presser was told)."""
    uid = update.effective_user.id if update.effective_user else 0
    first = await attempt(
        update,
        ctx,
        lambda w: repeats.first_time(ctx.rt, w.session, order_id, uid, rule_code, at),
        write=False,
    )
    if first is None:
        return None
    _ = await ctx.gettext()
    tz = ctx.rt.timezone
    rule = repeats.parse_rule(rule_code)
    lines = [_("Repeat it {rule}?").format(rule=repeats.rule_text(rule, at, _))]
    if rule.monthday in repeats.SHORT_MONTH_DAYS:
        lines.append(_("In a month without that day: on its last day."))
    if first.tomorrow:
        lines.append(_("Today's order is already placed, so it starts tomorrow."))
    if first.at is not None:
        lines.append(
            _("The first one: {when}.").format(when=local_time(first.at, tz, "%m-%d %H:%M"))
        )
    text = "\n".join(lines)
    hhmm = at.replace(":", "")
    rows: Rows = [
        [
            Button(
                _("✅ Until I stop it"),
                CONFIRM.data(order_id=order_id, rule=rule_code, at=hhmm, span=0),
            )
        ],
        [
            Button(
                _("✅ For a week"), CONFIRM.data(order_id=order_id, rule=rule_code, at=hhmm, span=7)
            )
        ],
        [
            Button(
                _("✅ For a month"),
                CONFIRM.data(order_id=order_id, rule=rule_code, at=hhmm, span=30),
            )
        ],
        [
            Button(
                _("📅 Until a day I type"),
                UNTIL.data(order_id=order_id, rule=rule_code, at=hhmm),
            )
        ],
        _drop_row(_),
    ]
    return text, rows


async def time_chosen(update: Update, ctx: AppContext) -> None:
    """rp:t: how long, and confirm."""
    q = pressed(update)
    values = TIME_CHOSEN.parse(q.data)
    screen = await _confirm_screen(update, ctx, values.order_id, values.rule, values.at)
    if screen is None:
        return
    await answer(q)
    await edit_or_send(update, screen[0], inline(screen[1]))


async def type_asked(update: Update, ctx: AppContext) -> int:
    """rp:type: the time is typed next."""
    q = pressed(update)
    values = TYPE.parse(q.data)
    if await _order(update, ctx, values.order_id) is None:  # not theirs: alerted, no question
        return ConversationHandler.END
    assert ctx.user_data is not None
    ctx.user_data[TYPING_KEY] = [values.order_id, values.rule]
    _ = await ctx.gettext()
    await answer(q)
    await edit_or_send(update, _(TYPE_A_TIME), inline([_drop_row(_)]))
    return TYPE_TIME


async def time_typed(update: Update, ctx: AppContext) -> int:
    assert update.effective_message is not None and ctx.user_data is not None
    _ = await ctx.gettext()
    at = repeats.parse_time(update.effective_message.text or "")
    pending = ctx.user_data.get(TYPING_KEY)
    if pending is None:
        return ConversationHandler.END
    if at is None:
        await update.effective_message.reply_text(_(TYPE_A_TIME))
        return TYPE_TIME
    ctx.user_data.pop(TYPING_KEY, None)
    screen = await _confirm_screen(update, ctx, int(pending[0]), str(pending[1]), at)
    if screen is not None:
        await update.effective_message.reply_text(screen[0], reply_markup=inline(screen[1]))
    return ConversationHandler.END


async def until_asked(update: Update, ctx: AppContext) -> int:
    """rp:until: the last day is typed next."""
    q = pressed(update)
    values = UNTIL.parse(q.data)
    if await _order(update, ctx, values.order_id) is None:  # not theirs: alerted, no question
        return ConversationHandler.END
    assert ctx.user_data is not None
    ctx.user_data[END_KEY] = [values.order_id, values.rule, values.at]
    _ = await ctx.gettext()
    await answer(q)
    await edit_or_send(update, _(repeats.BAD_END), inline([_drop_row(_)]))
    return TYPE_END


async def end_typed(update: Update, ctx: AppContext) -> int:
    """The last day, typed: asked again if it cannot be read or is too early; else confirmed
    by a button (the day rides in its data)."""
    msg, user = update.effective_message, update.effective_user
    assert msg is not None and user is not None and ctx.user_data is not None
    pending = ctx.user_data.get(END_KEY)
    if pending is None:
        return ConversationHandler.END
    order_id, rule_code, at = int(pending[0]), str(pending[1]), str(pending[2])
    _ = await ctx.gettext()
    try:
        async with reading(ctx) as w:
            until, first = await repeats.end_typed(
                ctx.rt, w.session, order_id, user.id, rule_code, at, msg.text or ""
            )
    except Refused as e:
        await msg.reply_text(e.render(_))
        return (
            TYPE_END
            if e.message in (repeats.BAD_END, repeats.EARLY_END)
            else ConversationHandler.END
        )
    ctx.user_data.pop(END_KEY, None)
    rule = repeats.parse_rule(rule_code)
    lines = [
        _("Repeat it {rule}, until {day}?").format(
            rule=repeats.rule_text(rule, at, _), day=until.strftime("%m-%d")
        )
    ]
    if first.tomorrow:
        lines.append(_("Today's order is already placed, so it starts tomorrow."))
    if first.at is not None:
        when = local_time(first.at, ctx.rt.timezone, "%m-%d %H:%M")
        lines.append(_("The first one: {when}.").format(when=when))
    ok = CONFIRM_UNTIL.data(order_id=order_id, rule=rule_code, at=at.replace(":", ""), until=until)
    rows: Rows = [[Button(_("✅ Yes"), ok)], _drop_row(_)]
    await msg.reply_text("\n".join(lines), reply_markup=inline(rows))
    return ConversationHandler.END


async def confirmed(update: Update, ctx: AppContext) -> None:
    """rp:ok: the repeat is made (once, however often pressed)."""
    q = pressed(update)
    values = CONFIRM.parse(q.data)
    await _create(update, ctx, values.order_id, values.rule, values.at, values.span, None)


async def confirmed_until(update: Update, ctx: AppContext) -> None:
    """rp:okd: made, to end after the day typed."""
    q = pressed(update)
    try:
        values = CONFIRM_UNTIL.parse(q.data)  # eight digits that are no day: refused here
    except Refused:
        await alert(update, (await ctx.gettext())(STALE))
        return
    await _create(update, ctx, values.order_id, values.rule, values.at, 0, values.until)


async def _create(
    update: Update,
    ctx: AppContext,
    order_id: int,
    rule_code: str,
    at: str,
    span: int,
    until: date | None,
) -> None:
    q = pressed(update)
    made = await attempt(
        update,
        ctx,
        lambda w: repeats.create(
            ctx.rt, w.session, order_id, q.from_user.id, rule_code, at, span, until
        ),
    )
    if made is None:
        return
    _ = await ctx.gettext()
    await answer(q, _("Set.") if made.created else None)
    await edit_or_send(update, _describe(made.repeat, _, ctx.rt.timezone), None)


async def dropped(update: Update, ctx: AppContext) -> None:
    """rp:x: nothing is set; the question says so."""
    if ctx.user_data is not None:
        ctx.user_data.pop(TYPING_KEY, None)
        ctx.user_data.pop(END_KEY, None)
    _ = await ctx.gettext()
    await answer(pressed(update))
    await edit_or_send(update, _(NOT_SET), None)


# --- the list under 📋 My orders -------------------------------------------------------------


def _describe(r: RepeatView, _: Gettext, tz: str) -> str:
    lines = [
        "🔁 "
        + _("Repeating order R{id}: {title}, {rule}").format(
            id=r.id, title=_title(r.category, _), rule=repeats.rule_text(r.rule, r.at_time, _)
        ),
        _("Status: {status}").format(status=_(repeats.STATUS_WORDS[r.status])),
    ]
    if r.where:  # shown to staff: whose it is
        lines.insert(1, "🏠 " + r.where)
    if r.description:
        lines.append(
            "📝 " + (r.description if len(r.description) <= 200 else r.description[:199] + "…")
        )
    if r.status == "active" and r.next_due_at is not None:
        lines.append(_("Next: {when}").format(when=local_time(r.next_due_at, tz, "%m-%d %H:%M")))
    if r.ends_on is not None:
        lines.append(_("Last day: {day}").format(day=r.ends_on.strftime("%m-%d")))
    return "\n".join(lines)


def _buttons(r: RepeatView, _: Gettext) -> Rows:
    rows: Rows = []
    if r.status == "active":
        rows.append([Button(_("⏸ Pause"), PAUSE.data(repeat_id=r.id, seen=r.status))])
    if r.status == "paused":
        rows.append([Button(_("▶️ Resume"), RESUME.data(repeat_id=r.id, seen=r.status))])
    if r.status in ("active", "paused"):
        rows.append([Button(_("✖️ Stop"), STOP.data(repeat_id=r.id, seen=r.status))])
    return rows


async def show_list(update: Update, ctx: AppContext) -> None:
    """Under 📋 My orders: each repeat that may still fire, with its buttons."""
    assert update.effective_user is not None and update.effective_chat is not None
    async with reading(ctx) as w:
        _ = w._
        mine = await repeats.of_resident(w.session, update.effective_user.id)
    for r in mine:
        await update.effective_chat.send_message(
            _describe(r, _, ctx.rt.timezone), reply_markup=inline(_buttons(r, _))
        )


async def staff_list(update: Update, ctx: AppContext) -> None:
    """/repeats (staff): the repeats of the households in their scope, each with its buttons."""
    assert update.effective_user is not None and update.effective_chat is not None
    uid = update.effective_user.id
    found = await attempt(update, ctx, lambda w: repeats.in_scope(w.session, uid), write=False)
    if found is None:
        return
    _ = await ctx.gettext()
    if not found:
        await update.effective_chat.send_message(_("No repeating orders in your scope."))
        return
    for r in found:
        await update.effective_chat.send_message(
            _describe(r, _, ctx.rt.timezone), reply_markup=inline(_buttons(r, _))
        )


async def _change(update: Update, ctx: AppContext, button: Callback, verb: str) -> None:
    q = pressed(update)
    values = button.parse(q.data)
    done = await attempt(
        update,
        ctx,
        lambda w: repeats.change(
            ctx.rt, w.session, values.repeat_id, q.from_user.id, verb, values.seen
        ),
    )
    if done is None:
        return
    _ = await ctx.gettext()
    if done.acted:
        await answer(q, _(TOASTS[verb]))
    else:
        await alert(update, _("This message is out of date. The repeat as it is now is shown."))
    r = done.repeat
    await edit_or_send(
        update, _describe(r, _, ctx.rt.timezone), inline(_buttons(r, _)) if _buttons(r, _) else None
    )


async def paused(update: Update, ctx: AppContext) -> None:
    await _change(update, ctx, PAUSE, "pause")


async def resumed(update: Update, ctx: AppContext) -> None:
    await _change(update, ctx, RESUME, "resume")


async def stopped(update: Update, ctx: AppContext) -> None:
    await _change(update, ctx, STOP, "stop")


def build_repeat_conversation(timeout_s: float) -> ConversationHandler[AppContext]:
    """Only a typed time is a conversation (its state survives a restart)."""
    entry: list[Handler] = [TYPE.handler(type_asked), UNTIL.handler(until_asked)]
    exits = conversation_exits(forget=(TYPING_KEY, END_KEY), stop_button=DROP, stopped=NOT_SET)
    return ConversationHandler(
        entry_points=entry,
        states={
            TYPE_TIME: [MessageHandler(PRIVATE_TEXT, time_typed)],
            TYPE_END: [MessageHandler(PRIVATE_TEXT, end_typed)],
            **exits.timeout,
        },
        fallbacks=[*exits.stop, *entry, *exits.stray],
        name="repeat",
        allow_reentry=True,
        persistent=True,
        conversation_timeout=timeout_s,
    )


def repeat_handlers() -> list[Any]:
    return [
        CommandHandler("repeats", staff_list, filters=filters.ChatType.PRIVATE),
        NEW.handler(new),
        WEEKLY.handler(weekly),
        MONTHLY.handler(monthly),
        RULE_CHOSEN.handler(rule_chosen),
        TIME_CHOSEN.handler(time_chosen),
        CONFIRM.handler(confirmed),
        CONFIRM_UNTIL.handler(confirmed_until),
        DROP.handler(dropped),
        PAUSE.handler(paused),
        RESUME.handler(resumed),
        STOP.handler(stopped),
    ]
