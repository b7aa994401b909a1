"""The volunteer: claim a task from the group, run it from the private card."""

from __future__ import annotations

from typing import Any

from telegram import (
    CallbackQuery,
    KeyboardButton,
    ReplyKeyboardMarkup,
    ReplyKeyboardRemove,
    Update,
)
from telegram.ext import (
    CommandHandler,
    ConversationHandler,
    MessageHandler,
    filters,
)

from bot.buttons import Button, Rows
from bot.errors import STALE, Refused
from bot.services import residents, volunteers
from bot.services.orders import routing, texts, transitions, views
from handlers.answers import alert, answer, edit_or_send, is_private, pressed, set_buttons
from handlers.callback_data import ID, Callback, one_of
from handlers.context import AppContext
from handlers.conversation_exits import PLEASE_ANSWER, AfterStop, conversation_exits
from handlers.keyboards import inline, share_phone
from handlers.work import attempt, unit_of_work

CLAIM = Callback("o", "claim", order_id=ID)
ADVANCE = Callback("o", step=one_of(("buy", "go")), order_id=ID)
ASK_WHY = Callback("o", verb=one_of(("rel", "nf")), order_id=ID)
RELEASED = Callback("o", "relr", order_id=ID, reason=one_of(texts.RELEASE_REASONS))
GAVE_UP = Callback("o", "nfr", order_id=ID, reason=one_of(texts.GIVE_UP_REASONS))
DUTY = Callback("v", "duty", on=one_of(("on", "off")))
MY_TASKS = Callback("v", "tasks")


async def claim(update: Update, ctx: AppContext) -> None:
    """o:claim:<id>, pressed in the group (or in a private ping). One press wins."""
    q = pressed(update)
    order_id = CLAIM.parse(q.data).order_id
    v = await attempt(
        update, ctx, lambda w: transitions.claim(ctx.rt, w.session, order_id, q.from_user.id)
    )
    if v is None:
        if is_private(update):  # a private ping of a task no longer open loses its 🙋
            async with ctx.rt.db.read() as s:
                now = await views.get_view(s, order_id)
            if now is None or now.status != "open":
                await set_buttons(q, None)
        return
    _ = await ctx.gettext()
    await answer(
        q,
        _(
            "Task #{id} is yours. The address is in your private chat with me "
            "(if it is not there, open the chat and send /mytasks)."
        ).format(id=v.id),
        show_alert=True,
    )


async def card_as_it_is(update: Update, ctx: AppContext, order_id: int) -> None:
    """After a refused press in the runner's private chat (an older card, a task moved on):
    the pressed message becomes the task's card as it is now, with only the buttons that
    apply; for a task no longer theirs, it just loses its buttons. Never acts."""
    q = pressed(update)
    if not is_private(update):
        return
    try:
        async with ctx.rt.db.read() as s:
            v = await views.runner_view(s, order_id, q.from_user.id)
    except Refused:
        await set_buttons(q, None)
        return
    text, rows = texts.runner_card(v, await ctx.gettext(), ctx.rt.timezone)
    await edit_or_send(update, text, inline(rows))


def _shown_in(q: CallbackQuery) -> int | None:
    """The pressed message's id: the service edits the runner's card too when it is another."""
    return q.message.message_id if q.message else None


async def _card(update: Update, text: str, rows: Rows) -> None:
    assert update.callback_query is not None
    await answer(update.callback_query)
    await edit_or_send(update, text, inline(rows))


async def advanced(update: Update, ctx: AppContext) -> None:
    """o:buy / o:go on the runner's card. 📦 (o:done) is the proof-of-delivery conversation,
    handlers/delivery.py."""
    q = pressed(update)
    values = ADVANCE.parse(q.data)
    v = await attempt(
        update,
        ctx,
        lambda w: transitions.advance(
            ctx.rt,
            w.session,
            values.order_id,
            q.from_user.id,
            values.step,
            shown_in=_shown_in(q),
        ),
    )
    if v is not None:
        await _card(update, *texts.runner_card(v, await ctx.gettext(), ctx.rt.timezone))
    else:
        await card_as_it_is(update, ctx, values.order_id)


async def why_asked(update: Update, ctx: AppContext) -> None:
    """o:rel (give it back) / o:nf (not possible): the runner chooses why."""
    q = pressed(update)
    values = ASK_WHY.parse(q.data)
    v = await attempt(
        update, ctx, lambda w: views.runner_view(w.session, values.order_id, q.from_user.id)
    )
    if v is not None:
        pick = texts.release_reasons if values.verb == "rel" else texts.give_up_reasons
        await _card(update, *pick(v, await ctx.gettext()))
    else:
        await card_as_it_is(update, ctx, values.order_id)


async def released(update: Update, ctx: AppContext) -> None:
    """o:relr:<reason>: the task goes back to the group."""
    q = pressed(update)
    values = RELEASED.parse(q.data)
    reason = texts.RELEASE_REASONS[values.reason]
    v = await attempt(
        update,
        ctx,
        lambda w: transitions.release(
            ctx.rt, w.session, values.order_id, q.from_user.id, reason, shown_in=_shown_in(q)
        ),
    )
    if v is not None:
        _ = await ctx.gettext()
        text = _("You gave task #{id} back; it is open in the group again.").format(id=v.id)
        await _card(update, text, [])


async def gave_up(update: Update, ctx: AppContext) -> None:
    """o:nfr:<reason>: the task is closed as not possible."""
    q = pressed(update)
    values = GAVE_UP.parse(q.data)
    reason = texts.GIVE_UP_REASONS[values.reason]
    v = await attempt(
        update,
        ctx,
        lambda w: transitions.give_up(
            ctx.rt, w.session, values.order_id, q.from_user.id, reason, shown_in=_shown_in(q)
        ),
    )
    if v is not None:
        _ = await ctx.gettext()
        text = _("Task #{id} is closed as not possible. Thank you for trying.").format(id=v.id)
        await _card(update, text, [])


async def my_tasks(update: Update, ctx: AppContext) -> None:
    assert update.effective_user is not None and update.effective_message is not None
    try:
        async with unit_of_work(ctx) as w:
            _ = w._
            tasks = await views.tasks_of_volunteer(w.session, update.effective_user.id)
    except Refused as e:  # a suspended volunteer: no cards, no addresses
        await update.effective_message.reply_text(e.render(_))
        return
    if not tasks:
        await update.effective_message.reply_text(
            _(
                "You are not running any task right now. Send /tasks in your grid's group to see "
                "the tasks waiting for someone."
            )
        )
        return
    for v in tasks:
        text, rows = texts.runner_card(v, _, ctx.rt.timezone)
        await update.effective_message.reply_text(text, reply_markup=inline(rows))


def volunteer_handlers() -> list[Any]:
    return [
        CLAIM.handler(claim),
        ADVANCE.handler(advanced),
        ASK_WHY.handler(why_asked),
        RELEASED.handler(released),
        GAVE_UP.handler(gave_up),
        CommandHandler("tasks", group_tasks),
        CommandHandler("duty", duty, filters=filters.ChatType.PRIVATE),
        DUTY.handler(duty),
        CommandHandler("history", my_history, filters=filters.ChatType.PRIVATE),
        MY_TASKS.handler(my_tasks_button),
        CommandHandler("mytasks", my_tasks, filters=filters.ChatType.PRIVATE),
    ]


async def duty(update: Update, ctx: AppContext) -> None:
    """/duty, and the 🟢/⚪ buttons: check in or out of duty."""
    assert update.effective_user is not None and update.effective_chat is not None
    q = update.callback_query
    try:
        async with unit_of_work(ctx) as w:
            _ = w._
            if q is not None:
                going_on = DUTY.parse(q.data).on == "on"
                on = await volunteers.set_duty(ctx.rt, w.session, q.from_user.id, going_on)
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
    _ = await ctx.gettext()
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
        f"{_(texts.NEEDED[t.urgency])}"
        for t in tasks
    ]
    rows = texts.claim_rows([t.id for t in tasks])
    await update.effective_message.reply_text("\n".join(lines), reply_markup=inline(rows))


async def my_history(update: Update, ctx: AppContext) -> None:
    assert update.effective_user is not None and update.effective_message is not None
    _ = await ctx.gettext()
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
GRID_CHOSEN = Callback("j", "g", grid_id=ID)
WHEN_CHOSEN = Callback("j", "a", availability=one_of(volunteers.AVAILABILITY))


def _join(ctx: AppContext) -> dict[str, Any]:
    assert ctx.user_data is not None
    join: dict[str, Any] = ctx.user_data.setdefault(JOIN_KEY, {})
    return join


async def join_start(update: Update, ctx: AppContext) -> int:
    assert update.effective_user is not None and update.effective_message is not None
    async with unit_of_work(ctx) as w:
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
    _ = await ctx.gettext()
    try:
        _join(ctx)["name"] = residents.clean_name(update.effective_message.text or "")
    except Refused as e:
        await update.effective_message.reply_text(e.render(_))
        return JOIN_NAME
    await update.effective_message.reply_text(
        _("Your phone number? Only staff and the residents whose task you take can see it."),
        reply_markup=share_phone(_),
    )
    return JOIN_PHONE


async def join_phone(update: Update, ctx: AppContext) -> int:
    msg = update.effective_message
    assert msg is not None and update.effective_user is not None
    _ = await ctx.gettext()
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
        grids = await volunteers.all_grids(s, ctx.serves)
    await msg.reply_text(_("Thank you."), reply_markup=ReplyKeyboardRemove())
    await msg.reply_text(
        _("Which grid will you help?"),
        reply_markup=inline(
            [[Button(label, GRID_CHOSEN.data(grid_id=gid))] for gid, label in grids]
        ),
    )
    return JOIN_GRID


async def join_grid(update: Update, ctx: AppContext) -> int:
    q = update.callback_query
    assert q is not None and q.data is not None
    _ = await ctx.gettext()
    grid_id = GRID_CHOSEN.parse(q.data).grid_id
    if ctx.serves is not None:  # a forged press for a grid another bot serves
        async with ctx.rt.db.read() as s:
            if grid_id not in dict(await volunteers.all_grids(s, ctx.serves)):
                await alert(update, _(STALE))
                return JOIN_GRID
    _join(ctx)["grid_id"] = grid_id
    await answer(q)
    rows = [
        [Button(_(label), WHEN_CHOSEN.data(availability=code))]
        for code, label in volunteers.AVAILABILITY.items()
    ]
    await edit_or_send(update, _("When can you work?"), inline(rows))
    return JOIN_WHEN


async def join_when(update: Update, ctx: AppContext) -> int:
    q = pressed(update)
    availability = WHEN_CHOSEN.parse(q.data).availability
    data = _join(ctx)
    info = await attempt(
        update,
        ctx,
        lambda w: volunteers.sign_up(
            ctx.rt,
            w.session,
            telegram_id=q.from_user.id,
            name=data.get("name", ""),
            phone=data.get("phone", ""),
            grid_id=int(data.get("grid_id", 0)),
            availability=availability,
        ),
    )
    if info is None:
        return ConversationHandler.END
    if ctx.user_data is not None:
        ctx.user_data.pop(JOIN_KEY, None)
    await answer(q)
    _ = await ctx.gettext()
    await edit_or_send(
        update,
        _("Thank you, {name}! The leader of {grid} will decide soon; I will tell you here.").format(
            name=info.name, grid=info.grid
        ),
        None,
    )
    return ConversationHandler.END


JOIN_EXITS = conversation_exits(
    forget=(JOIN_KEY,),
    commands=("cancel", "start"),
    after_stop=AfterStop.REMOVE,
    prefix="j",
    stray_message=PLEASE_ANSWER,
    timeout=False,
)


def build_join_conversation(timeout_s: float) -> ConversationHandler[AppContext]:
    text = filters.TEXT & ~filters.COMMAND
    return ConversationHandler(
        entry_points=[CommandHandler("volunteer", join_start, filters=filters.ChatType.PRIVATE)],
        states={
            JOIN_NAME: [MessageHandler(text, join_name)],
            JOIN_PHONE: [MessageHandler(text | filters.CONTACT, join_phone)],
            JOIN_GRID: [GRID_CHOSEN.handler(join_grid)],
            JOIN_WHEN: [WHEN_CHOSEN.handler(join_when)],
        },
        fallbacks=[*JOIN_EXITS.stop, *JOIN_EXITS.stray],
        name="volunteer_join",
        allow_reentry=True,
        persistent=True,
        conversation_timeout=timeout_s,
    )
