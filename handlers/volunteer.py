"""The volunteer: claim a task from the group, run it from the private card."""

from __future__ import annotations

from typing import Any

from telegram import KeyboardButton, ReplyKeyboardMarkup, ReplyKeyboardRemove, Update
from telegram.ext import (
    CallbackQueryHandler,
    CommandHandler,
    ConversationHandler,
    MessageHandler,
    filters,
)

from bot.buttons import Button, parse_order_action
from bot.errors import Refused
from bot.i18n import N_
from bot.services import residents, volunteers
from bot.services.orders import routing, texts, transitions, views
from handlers.callback_data import ID, one_of
from handlers.common import STALE, alert, answer, edit_or_send, inline, translator, unit_of_work
from handlers.context import AppContext


async def claim(update: Update, ctx: AppContext) -> None:
    """o:claim:<id>, pressed in the group (or in a private ping). One press wins."""
    q = update.callback_query
    assert q is not None and q.data is not None
    parsed = parse_order_action(q.data)
    if parsed is None:  # the patterns admit only real data; still, never parse it blindly
        await alert(update, (await translator(update, ctx))(STALE))
        return
    try:
        async with unit_of_work(update, ctx) as w:
            _ = w._
            v = await transitions.claim(ctx.rt, w.session, parsed[1], q.from_user.id)
    except Refused as e:
        await alert(update, e.render(_))
        return
    await answer(
        q,
        _(
            "Task #{id} is yours. The address is in your private chat with me "
            "(if it is not there, open the chat and send /mytasks)."
        ).format(id=v.id),
        show_alert=True,
    )


async def runner_action(update: Update, ctx: AppContext) -> None:
    """o:buy / o:go / o:rel (ask why) / o:relr:<reason> on the runner's card. 📦 (o:done) is
    the proof-of-delivery conversation, handlers/delivery.py."""
    q = update.callback_query
    assert q is not None and q.data is not None
    parsed = parse_order_action(q.data)
    if parsed is None:  # the patterns admit only real data; still, never parse it blindly
        await alert(update, (await translator(update, ctx))(STALE))
        return
    verb, order_id, arg = parsed
    try:
        async with unit_of_work(update, ctx) as w:
            _ = w._
            if verb in ("buy", "go"):
                v = await transitions.advance(ctx.rt, w.session, order_id, q.from_user.id, verb)
                text, rows = texts.runner_card(v, _, ctx.rt.timezone)
            elif verb in ("rel", "nf"):
                v0 = await views.runner_view(w.session, order_id, q.from_user.id)
                pick = texts.release_reasons if verb == "rel" else texts.give_up_reasons
                text, rows = pick(v0, _)
            elif verb == "nfr":
                if arg not in texts.GIVE_UP_REASONS:
                    raise Refused(N_("Please choose one of the reasons."))
                v = await transitions.give_up(
                    ctx.rt, w.session, order_id, q.from_user.id, texts.GIVE_UP_REASONS[arg]
                )
                text, rows = (
                    _("Task #{id} is closed as not possible. Thank you for trying.").format(
                        id=v.id
                    ),
                    [],
                )
            else:  # relr
                if arg not in texts.RELEASE_REASONS:
                    raise Refused(N_("Please choose one of the reasons."))
                v = await transitions.release(
                    ctx.rt, w.session, order_id, q.from_user.id, texts.RELEASE_REASONS[arg]
                )
                text, rows = (
                    _("You gave task #{id} back; it is open in the group again.").format(id=v.id),
                    [],
                )
    except Refused as e:
        await alert(update, e.render(_))
        return
    await answer(q)
    await edit_or_send(update, text, inline(rows))


async def my_tasks(update: Update, ctx: AppContext) -> None:
    assert update.effective_user is not None and update.effective_message is not None
    try:
        async with unit_of_work(update, ctx) as w:
            _ = w._
            tasks = await views.tasks_of_volunteer(w.session, update.effective_user.id)
    except Refused as e:  # a suspended volunteer: no cards, no addresses
        await update.effective_message.reply_text(e.render(_))
        return
    if not tasks:
        await update.effective_message.reply_text(_("You are not running any task right now."))
        return
    for v in tasks:
        text, rows = texts.runner_card(v, _, ctx.rt.timezone)
        await update.effective_message.reply_text(text, reply_markup=inline(rows))


def volunteer_handlers() -> list[Any]:
    return [
        CallbackQueryHandler(claim, pattern=rf"^o:claim:{ID}$"),
        CallbackQueryHandler(runner_action, pattern=rf"^o:(buy|go|rel|nf):{ID}$"),
        CallbackQueryHandler(
            runner_action, pattern=rf"^o:relr:{ID}:{one_of(texts.RELEASE_REASONS)}$"
        ),
        CallbackQueryHandler(
            runner_action, pattern=rf"^o:nfr:{ID}:{one_of(texts.GIVE_UP_REASONS)}$"
        ),
        CommandHandler("tasks", group_tasks),
        CommandHandler("duty", duty, filters=filters.ChatType.PRIVATE),
        CallbackQueryHandler(duty, pattern=r"^v:duty:(on|off)$"),
        CommandHandler("history", my_history, filters=filters.ChatType.PRIVATE),
        CallbackQueryHandler(my_tasks_button, pattern=r"^v:tasks$"),
        CommandHandler("mytasks", my_tasks, filters=filters.ChatType.PRIVATE),
    ]


async def duty(update: Update, ctx: AppContext) -> None:
    """/duty, and the 🟢/⚪ buttons: check in or out of duty."""
    assert update.effective_user is not None and update.effective_chat is not None
    q = update.callback_query
    try:
        async with unit_of_work(update, ctx) as w:
            _ = w._
            if q is not None and q.data in ("v:duty:on", "v:duty:off"):
                on = await volunteers.set_duty(
                    ctx.rt, w.session, q.from_user.id, q.data == "v:duty:on"
                )
            else:
                on = await volunteers.on_duty(w.session, update.effective_user.id)
    except Refused as e:
        if q is not None:
            await alert(update, e.render(_))
        else:
            await update.effective_chat.send_message(e.render(_))
        return
    text = (
        _("🟢 You are on duty: new tasks of your grid also come to you here.")
        if on
        else _("⚪ You are off duty: new tasks only appear in the group.")
    )
    rows = volunteers.duty_buttons(_, on)
    if q is not None:
        await answer(q)
        await edit_or_send(update, text, inline(rows))
    else:
        await update.effective_chat.send_message(text, reply_markup=inline(rows))


async def group_tasks(update: Update, ctx: AppContext) -> None:
    """/tasks in a grid's group: the open tasks, each with its claim button."""
    chat = update.effective_chat
    assert chat is not None and update.effective_message is not None
    _ = await translator(update, ctx)
    if chat.type == "private":
        await update.effective_message.reply_text(
            _("Send /tasks in your grid's group to see its open tasks; /mytasks here lists yours.")
        )
        return
    async with ctx.rt.db.read() as s:
        tasks = await routing.open_tasks_of_group(s, chat.id)
    if not tasks:
        await update.effective_message.reply_text(_("No open tasks right now. Thank you!"))
        return
    lines = [_("Open tasks: {n}").format(n=len(tasks))]
    lines += [
        f"{'⭐' if t.priority else '•'} {texts.title(t, _)} · {t.compound} {t.building} · "
        f"{_(texts.URGENCY[t.urgency])}"
        for t in tasks
    ]
    rows = texts.claim_rows([t.id for t in tasks])
    await update.effective_message.reply_text("\n".join(lines), reply_markup=inline(rows))


async def my_history(update: Update, ctx: AppContext) -> None:
    assert update.effective_user is not None and update.effective_message is not None
    _ = await translator(update, ctx)
    async with ctx.rt.db.read() as s:
        done = await views.history_of_volunteer(s, update.effective_user.id)
    if not done:
        await update.effective_message.reply_text(_("No finished tasks yet."))
        return
    lines = [_("Your last finished tasks:")] + [
        f"{texts.title(t, _)} · {t.compound} {t.building} · {_(texts.STATUS[t.status])}"
        + (" " + "⭐" * t.rating if t.rating else "")
        for t in done
    ]
    await update.effective_message.reply_text("\n".join(lines))


async def my_tasks_button(update: Update, ctx: AppContext) -> None:
    if update.callback_query:
        await answer(update.callback_query)
    await my_tasks(update, ctx)


# --- joining: /volunteer ------------------------------------------------------------------

JOIN_NAME, JOIN_PHONE, JOIN_GRID, JOIN_WHEN = range(30, 34)
JOIN_KEY = "join"


def _join(ctx: AppContext) -> dict[str, Any]:
    assert ctx.user_data is not None
    return ctx.user_data.setdefault(JOIN_KEY, {})


async def join_start(update: Update, ctx: AppContext) -> int:
    assert update.effective_user is not None and update.effective_message is not None
    async with unit_of_work(update, ctx) as w:
        _ = w._
        me = await volunteers.get(w.session, update.effective_user.id)
    if me is not None:
        await update.effective_message.reply_text(
            _("You signed up as a volunteer of {grid} ({community}): {status}.").format(
                grid=me.grid,
                community=me.community,
                status=_(volunteers.STATUS_WORDS[me.status]),
            )
        )
        return ConversationHandler.END
    if ctx.user_data is not None:
        ctx.user_data[JOIN_KEY] = {}
    first = update.effective_user.first_name or ""
    await update.effective_message.reply_text(
        _(
            "Thank you for helping your neighbours! Four short questions; /cancel stops.\n"
            "Your name, as the residents and the grid leader should see it?"
        ),
        reply_markup=ReplyKeyboardMarkup(
            [[KeyboardButton(first)]], resize_keyboard=True, one_time_keyboard=True
        )
        if first
        else None,
    )
    return JOIN_NAME


async def join_name(update: Update, ctx: AppContext) -> int:
    assert update.effective_message is not None
    _ = await translator(update, ctx)
    try:
        _join(ctx)["name"] = residents.clean_name(update.effective_message.text or "")
    except Refused as e:
        await update.effective_message.reply_text(e.render(_))
        return JOIN_NAME
    await update.effective_message.reply_text(
        _("Your phone number? Only staff and the residents whose task you take can see it."),
        reply_markup=ReplyKeyboardMarkup(
            [[KeyboardButton(_("📱 Share my phone number"), request_contact=True)]],
            resize_keyboard=True,
            one_time_keyboard=True,
        ),
    )
    return JOIN_PHONE


async def join_phone(update: Update, ctx: AppContext) -> int:
    msg = update.effective_message
    assert msg is not None and update.effective_user is not None
    _ = await translator(update, ctx)
    # A shared contact must be the volunteer's own (as for residents): staff approve and
    # residents call the number they see, so it must reach the person who signed up.
    if msg.contact is not None and msg.contact.user_id not in (None, update.effective_user.id):
        await msg.reply_text(_("Please share your own number with the button, or type it."))
        return JOIN_PHONE
    raw = msg.contact.phone_number if msg.contact else (msg.text or "")
    try:
        _join(ctx)["phone"] = residents.clean_phone(raw)
    except Refused as e:
        await msg.reply_text(e.render(_))
        return JOIN_PHONE
    async with ctx.rt.db.read() as s:
        grids = await volunteers.all_grids(s)
    await msg.reply_text(_("Thank you."), reply_markup=ReplyKeyboardRemove())
    await msg.reply_text(
        _("Which grid will you help?"),
        reply_markup=inline([[Button(label, f"j:g:{gid}")] for gid, label in grids]),
    )
    return JOIN_GRID


async def join_grid(update: Update, ctx: AppContext) -> int:
    q = update.callback_query
    assert q is not None and q.data is not None
    _ = await translator(update, ctx)
    _join(ctx)["grid_id"] = int(q.data.split(":")[2])
    await answer(q)
    rows = [[Button(_(label), f"j:a:{code}")] for code, label in volunteers.AVAILABILITY.items()]
    await edit_or_send(update, _("When can you work?"), inline(rows))
    return JOIN_WHEN


async def join_when(update: Update, ctx: AppContext) -> int:
    q = update.callback_query
    assert q is not None and q.data is not None
    data = _join(ctx)
    try:
        async with unit_of_work(update, ctx) as w:
            _ = w._
            info = await volunteers.sign_up(
                ctx.rt,
                w.session,
                telegram_id=q.from_user.id,
                name=data.get("name", ""),
                phone=data.get("phone", ""),
                grid_id=int(data.get("grid_id", 0)),
                availability=q.data.split(":")[2],
            )
    except Refused as e:
        await alert(update, e.render(_))
        return ConversationHandler.END
    if ctx.user_data is not None:
        ctx.user_data.pop(JOIN_KEY, None)
    await answer(q)
    await edit_or_send(
        update,
        _("Thank you, {name}! The leader of {grid} will decide soon; I will tell you here.").format(
            name=info.name, grid=info.grid
        ),
        None,
    )
    return ConversationHandler.END


async def join_stop(update: Update, ctx: AppContext) -> int:
    _ = await translator(update, ctx)
    if ctx.user_data is not None:
        ctx.user_data.pop(JOIN_KEY, None)
    if update.effective_message:
        await update.effective_message.reply_text(
            _("Stopped. Nothing was sent."), reply_markup=ReplyKeyboardRemove()
        )
    return ConversationHandler.END


async def join_stray(update: Update, ctx: AppContext) -> None:
    _ = await translator(update, ctx)
    if update.callback_query:
        await alert(update, _(STALE))
    elif update.effective_message:
        await update.effective_message.reply_text(
            _(
                "Please answer the question above (use the buttons if there are any), "
                "or send /cancel to stop."
            )
        )


def build_join_conversation(timeout_s: float) -> ConversationHandler[AppContext]:
    text = filters.TEXT & ~filters.COMMAND
    return ConversationHandler(
        entry_points=[CommandHandler("volunteer", join_start, filters=filters.ChatType.PRIVATE)],
        states={
            JOIN_NAME: [MessageHandler(text, join_name)],
            JOIN_PHONE: [MessageHandler(text | filters.CONTACT, join_phone)],
            JOIN_GRID: [CallbackQueryHandler(join_grid, pattern=rf"^j:g:{ID}$")],
            JOIN_WHEN: [
                CallbackQueryHandler(join_when, pattern=rf"^j:a:{one_of(volunteers.AVAILABILITY)}$")
            ],
        },
        fallbacks=[
            CommandHandler(["cancel", "start"], join_stop),
            CallbackQueryHandler(join_stray, pattern=r"^j:"),
            MessageHandler(~filters.COMMAND, join_stray),
        ],
        name="volunteer_join",
        allow_reentry=True,
        persistent=True,
        conversation_timeout=timeout_s,
    )
