"""The relay: the resident and their runner write to each other through the bot (m:to:<id>),
and staff read an order's messages (/relay <id>)."""

from __future__ import annotations

from telegram import Update
from telegram.ext import (
    CallbackQueryHandler,
    CommandHandler,
    ConversationHandler,
    MessageHandler,
    TypeHandler,
    filters,
)

from bot.buttons import RELAY_PATTERN
from bot.errors import Refused
from bot.i18n import N_, gettext_for, local_time
from bot.limits import TEXT_LIMIT
from bot.services import relay
from bot.services.orders import texts
from handlers.common import (
    PRIVATE_MESSAGE,
    PRIVATE_OTHER,
    PRIVATE_TEXT,
    STALE,
    alert,
    answer,
    chunks,
    is_private,
    language,
    translator,
    unit_of_work,
)
from handlers.context import AppContext

RELAY_WAIT = 30
RELAY_KEY = "relay_order_id"

PROMPT = {
    relay.RESIDENT: N_("Type your message for the volunteer (or send a photo). /cancel to stop."),
    relay.VOLUNTEER: N_("Type your message for the resident (or send a photo). /cancel to stop."),
}
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
    q = update.callback_query
    assert q is not None and q.data is not None and ctx.user_data is not None
    order_id = int(q.data.rsplit(":", 1)[1])
    try:
        async with ctx.rt.db.read() as s:
            _ = gettext_for(await language(ctx, s, q.from_user))
            if not is_private(update):
                raise Refused(STALE)
            v, role = await relay.can_message(s, order_id, q.from_user.id)
    except Refused as e:
        await alert(update, e.render(_))
        return None  # a conversation already under way goes on
    ctx.user_data[RELAY_KEY] = v.id
    await answer(q)
    assert update.effective_chat is not None
    await update.effective_chat.send_message(texts.title(v, _) + "\n" + _(PROMPT[role]))
    return RELAY_WAIT


async def _send(update: Update, ctx: AppContext, text: str | None, photo: str | None) -> int:
    msg = update.effective_message
    assert msg is not None and update.effective_user is not None and ctx.user_data is not None
    order_id = ctx.user_data.get(RELAY_KEY)
    try:
        async with unit_of_work(update, ctx) as w:
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


async def relay_unsupported(update: Update, ctx: AppContext) -> int:
    """Stickers, voice, files, locations...: say what can be passed on, keep waiting."""
    _ = await translator(update, ctx)
    if update.effective_message:
        await update.effective_message.reply_text(_(ONLY_TEXT_OR_PHOTO))
    return RELAY_WAIT


async def relay_stop(update: Update, ctx: AppContext) -> int:
    _ = await translator(update, ctx)
    if ctx.user_data is not None:
        ctx.user_data.pop(RELAY_KEY, None)
    if update.effective_message:
        await update.effective_message.reply_text(_(STOPPED))
    return ConversationHandler.END


async def relay_timeout(update: object, ctx: AppContext) -> None:
    """No message for a long time: forget the order, quietly (nothing was half-sent)."""
    if ctx.user_data is not None:
        ctx.user_data.pop(RELAY_KEY, None)


async def relay_stray(update: Update, ctx: AppContext) -> None:
    """An m: button this conversation does not know: an alert, still waiting."""
    _ = await translator(update, ctx)
    await alert(update, _(STALE))


def build_relay_conversation(timeout_s: float) -> ConversationHandler[AppContext]:
    entry = [CallbackQueryHandler(relay_start, pattern=RELAY_PATTERN)]
    return ConversationHandler(
        entry_points=entry,
        states={
            RELAY_WAIT: [
                # The menu's labels are not messages for the other party: they keep working.
                MessageHandler(PRIVATE_TEXT, relay_text),
                MessageHandler(PRIVATE_MESSAGE & filters.PHOTO, relay_photo),
            ],
            ConversationHandler.TIMEOUT: [TypeHandler(Update, relay_timeout)],
        },
        fallbacks=[
            CommandHandler("cancel", relay_stop),
            *entry,
            # Only this conversation's own prefix: other buttons (orders, menus) still work.
            CallbackQueryHandler(relay_stray, pattern=r"^m:"),
            MessageHandler(PRIVATE_OTHER, relay_unsupported),
        ],
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
    try:
        async with ctx.rt.db.read() as s:
            _ = gettext_for(await language(ctx, s, user))
            if not (arg.isdigit() and len(arg) <= 12):
                await msg.reply_text(_(USAGE))
                return
            v, messages = await relay.thread(s, int(arg), user.id)
    except Refused as e:
        await msg.reply_text(e.render(_))
        return
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
