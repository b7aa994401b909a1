"""The relay: the resident and their runner write to each other through the bot (m:to:<id>),
and staff read an order's messages (/relay <id>)."""

from __future__ import annotations

from telegram import Update
from telegram.ext import CommandHandler, ConversationHandler, MessageHandler, filters

from bot.errors import STALE, Refused
from bot.i18n import N_, local_time
from bot.limits import TEXT_LIMIT, chunks
from bot.services import relay
from bot.services.orders import texts
from bot.services.orders.views import OrderView
from handlers.answers import answer, drop_buttons, is_private, pressed, pressed_label
from handlers.callback_data import ID, Callback
from handlers.context import AppContext
from handlers.conversation_exits import Handler, conversation_exits
from handlers.keyboards import PRIVATE_MESSAGE, PRIVATE_OTHER, PRIVATE_TEXT
from handlers.work import Work, attempt, unit_of_work

RELAY_WAIT = 30
RELAY_KEY = "relay_order_id"
WRITE = Callback("m", "to", order_id=ID)  # bot.buttons.relay_action makes these buttons

PROMPT = {
    relay.RESIDENT: N_("Type your message for the volunteer (or send a photo). /cancel to stop."),
    relay.VOLUNTEER: N_("Type your message for the resident (or send a photo). /cancel to stop."),
}
# The runner of an order taken by phone for a household without Telegram.
PROMPT_BY_PHONE = N_(
    "The resident does not use the bot: {name}, who took the order by phone, will phone them "
    "and reply here. Type your message (or send a photo). /cancel to stop."
)
SENT = N_("Sent ✓")
STOPPED = N_("Stopped. Nothing was sent.")
ONLY_TEXT_OR_PHOTO = N_(
    "I can only pass on text or a photo. Please type your message or send a photo, "
    "or /cancel to stop."
)
USAGE = N_("Usage: /relay <order number>, for example /relay 12")
THREAD = N_("Messages about {title}:")
NO_MESSAGES = N_("No messages about {title} yet.")
ROLE = {relay.RESIDENT: N_("resident"), relay.VOLUNTEER: N_("volunteer")}
PHOTO = N_("(with a photo)")


async def relay_start(update: Update, ctx: AppContext) -> int | None:
    """m:to:<id>: may this person write about this order now? Then ask for the message."""
    q = pressed(update)
    order_id = WRITE.parse(q.data).order_id

    async def may_write(w: Work) -> tuple[OrderView, str, str]:
        if not is_private(update):
            raise Refused(STALE)
        v, role = await relay.can_message(w.session, order_id, q.from_user.id)
        taker = ""
        if v.relayed and role == relay.VOLUNTEER and v.entered_by is not None:
            taker = await relay.taker_name(w.session, v.entered_by)
        return v, role, taker

    allowed = await attempt(update, ctx, may_write, write=False)
    if allowed is None:  # a conversation already under way goes on
        if is_private(update) and pressed_label(q) is not None:
            await drop_buttons(q, "m:to:")  # closed, or no longer theirs: 💬 no longer applies
        return None
    v, role, taker = allowed
    assert ctx.user_data is not None and update.effective_chat is not None
    ctx.user_data[RELAY_KEY] = v.id
    await answer(q)
    _ = await ctx.gettext()
    prompt = _(PROMPT[role])
    if v.relayed and role == relay.VOLUNTEER:
        prompt = _(PROMPT_BY_PHONE).format(name=taker or _(relay.TAKER))
    await update.effective_chat.send_message(texts.title(v, _) + "\n" + prompt)
    return RELAY_WAIT


async def _send(update: Update, ctx: AppContext, text: str | None, photo: str | None) -> int:
    msg = update.effective_message
    assert msg is not None and update.effective_user is not None and ctx.user_data is not None
    order_id = ctx.user_data.get(RELAY_KEY)
    try:
        async with unit_of_work(ctx) as w:
            _ = w._
            if order_id is None:
                raise Refused(STALE)
            await relay.send(ctx.rt, w.session, order_id, update.effective_user.id, text, photo)
    except Refused as e:
        await msg.reply_text(e.render(_))
        if e.message in relay.INPUT_REFUSALS:
            return RELAY_WAIT  # the sender can try again
        ctx.user_data.pop(RELAY_KEY, None)
        return ConversationHandler.END
    ctx.user_data.pop(RELAY_KEY, None)
    await msg.reply_text(_(SENT))
    return ConversationHandler.END


async def relay_text(update: Update, ctx: AppContext) -> int:
    assert update.effective_message is not None
    return await _send(update, ctx, update.effective_message.text, None)


async def relay_photo(update: Update, ctx: AppContext) -> int:
    """The largest size of the photo, its caption as the text."""
    msg = update.effective_message
    assert msg is not None
    return await _send(update, ctx, msg.caption, msg.photo[-1].file_id)


def build_relay_conversation(timeout_s: float) -> ConversationHandler[AppContext]:
    entry: list[Handler] = [WRITE.handler(relay_start)]
    # Only this conversation's own prefix is stray: other buttons (orders, menus) still work;
    # what cannot be passed on (stickers, voice, files...) gets a hint, still waiting.
    exits = conversation_exits(
        forget=(RELAY_KEY,),
        stopped=STOPPED,
        prefix="m",
        stray_message=ONLY_TEXT_OR_PHOTO,
        stray_filter=PRIVATE_OTHER,
    )
    return ConversationHandler(
        entry_points=entry,
        states={
            RELAY_WAIT: [
                # The menu's labels are not messages for the other party: they keep working.
                MessageHandler(PRIVATE_TEXT, relay_text),
                MessageHandler(PRIVATE_MESSAGE & filters.PHOTO, relay_photo),
            ],
            **exits.timeout,  # quietly: nothing was half-sent
        },
        fallbacks=[*exits.stop, *entry, *exits.stray],
        name="relay",
        allow_reentry=True,
        persistent=True,
        conversation_timeout=timeout_s,
    )


# --- staff: an order's messages -----------------------------------------------------------


async def relay_thread(update: Update, ctx: AppContext) -> None:
    """/relay <order id>: the order's messages with times and who said what."""
    msg = update.effective_message
    user = update.effective_user
    assert msg is not None and user is not None
    arg = ctx.args[0].lstrip("#") if ctx.args and len(ctx.args) == 1 else ""
    _ = await ctx.gettext()
    if not (arg.isdigit() and len(arg) <= 12):
        await msg.reply_text(_(USAGE))
        return
    found = await attempt(
        update, ctx, lambda w: relay.thread(w.session, int(arg), user.id), write=False
    )
    if found is None:
        return
    v, messages = found
    title = texts.title(v, _)
    if not messages:
        await msg.reply_text(_(NO_MESSAGES).format(title=title))
        return
    lines = [_(THREAD).format(title=title)]
    for m in messages:
        said = " ".join(
            part for part in ("📷 " + _(PHOTO) if m.photo else "", m.text or "") if part
        )
        when = local_time(m.at, ctx.rt.timezone, "%m-%d %H:%M")
        lines.append(f"{when} {m.sender_name} ({_(ROLE[m.role])}): {said}")
    for chunk in chunks(lines, TEXT_LIMIT):
        await msg.reply_text(chunk)


def relay_command() -> CommandHandler[AppContext, None]:
    return CommandHandler("relay", relay_thread, filters=filters.ChatType.PRIVATE)
