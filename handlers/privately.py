"""Personal data stays out of groups (DESIGN rule 6): what is asked in a group about oneself is
answered in the private chat, and a forged button pressed in a group is refused before any
handler could edit its answer into the group's message."""

from __future__ import annotations

import logging
from typing import Any

from telegram import Update
from telegram.constants import ChatAction, ChatType
from telegram.error import BadRequest, Forbidden, TelegramError
from telegram.ext import ApplicationHandlerStop, CommandHandler, MessageHandler, filters

from bot.i18n import N_
from handlers import groupbuy_packing, language, staff, volunteer
from handlers.context import AppContext
from handlers.fallbacks import stale_button
from handlers.keyboards import MENU_GROUPBUYS, MENU_ME, MENU_MY_ORDERS, MENU_ORDER, label_pattern

logger = logging.getLogger(__name__)

# Commands whose answer is for the sender alone (most hold an address, a phone or a name, or
# start a form that will). Sent in a group they are answered in the private chat instead.
PRIVATE_COMMANDS = (
    "start",
    "order",
    "orders",
    "me",
    "mytasks",
    "history",
    "duty",
    "shifts",
    "volunteer",
    "relay",
    "care",
    "notice",
    "groupbuy",
    "groupbuys",
    "merchant",
    "gbcheck",
    "notices",
    "stats",
    "export",
    "roster",
    "volunteers",
    "setup",
    "staff",
    "outbox",  # admins: what waits to be sent
    "payqr",  # a volunteer's payment QR code
    "unpaid",  # staff: money not yet received
    "repeats",  # staff: the repeating orders in their scope
    "places",  # staff: places, the buildings they serve, their status
    "setstatus",  # staff: a building's status
    "merchants",  # staff: partner merchants, their contacts' Telegram ids
)
# Commands meant for a group, or harmless there (no personal data in the answer).
GROUP_COMMANDS = ("tasks", "bind", "help", "language", "cancel")
# Menu labels whose answer holds personal data (📝 may list the people one orders for).
PRIVATE_LABELS = (MENU_ORDER, MENU_MY_ORDERS, MENU_ME, MENU_GROUPBUYS)
IN_A_GROUP = filters.ChatType.GROUPS & filters.UpdateType.MESSAGE

SENT_PRIVATELY = N_("🔒 I answered you in our private chat: it is about you, not for the group.")
OPEN_PRIVATE_CHAT = N_(
    "🔒 I only answer this in our private chat, and I cannot write to you there yet. "
    "Please open a chat with me (@{bot}), press Start, then send it there."
)

# The only buttons a group message carries: claim a task, bind the group to a grid, choose a
# language, take a building's share of a group-buy. Any other data pressed there is forged,
# and its answer (a runner's card, an order's details) would be edited into the group's
# message for everyone to read.
GROUP_BUTTONS = (volunteer.CLAIM, staff.BIND, language.CHOSEN, groupbuy_packing.TAKE)


def private_view(update: Update) -> Update:
    """The same message as if the sender had written it in their private chat with the bot."""
    user = update.effective_user
    assert user is not None and update.message is not None
    msg = update.message.to_dict()
    msg["chat"] = {
        k: v
        for k, v in {
            "id": user.id,
            "type": ChatType.PRIVATE,
            "first_name": user.first_name,
            "last_name": user.last_name,
            "username": user.username,
        }.items()
        if v is not None
    }
    # Nothing that points into the group (a quoted message, a forum topic, a channel sender).
    for key in ("reply_to_message", "message_thread_id", "is_topic_message", "sender_chat"):
        msg.pop(key, None)
    return Update.de_json({"update_id": update.update_id, "message": msg}, update.get_bot())


async def answer_privately(update: Update, ctx: AppContext) -> None:
    """/mytasks, /orders, 📋, 👤 … sent in a group: the answer holds personal data, so the
    message is handled exactly as if it had been sent in the private chat, and the group only
    hears where the answer went. Someone the bot may not write to yet (they never pressed
    Start, or blocked it) is asked, in the group and with no data, to open the private chat."""
    msg, user = update.message, update.effective_user
    if msg is None or user is None or user.is_bot:
        return
    _ = await ctx.gettext()
    try:
        # The cheapest call that fails exactly as a private message would (403).
        await ctx.bot.send_chat_action(user.id, ChatAction.TYPING)
    except (Forbidden, BadRequest) as exc:
        logger.info("cannot answer user privately: %s", exc)
        await msg.reply_text(_(OPEN_PRIVATE_CHAT).format(bot=ctx.bot.username))
        return
    except TelegramError as exc:  # a transient failure says nothing about the private chat
        logger.info("chat action failed (%s); answering privately anyway", exc)
    await ctx.application.process_update(private_view(update))
    await msg.reply_text(_(SENT_PRIVATELY))


async def group_button_guard(update: Update, ctx: AppContext) -> None:
    """Runs before every other handler: a press in a group on data that is not a group's
    button gets the stale-button alert, and nothing else happens."""
    q = update.callback_query
    if q is None or q.message is None or q.message.chat.type == ChatType.PRIVATE:
        return
    if q.data and any(button.matches(q.data) for button in GROUP_BUTTONS):
        return
    await stale_button(update, ctx)
    raise ApplicationHandlerStop


def private_answer_handlers() -> list[Any]:
    """Registered first in group 0: in a group, these never reach the handlers that answer in
    place (the conversations, the menu, /mytasks)."""
    labels = filters.Regex("|".join(label_pattern(label) for label in PRIVATE_LABELS))
    return [
        CommandHandler(PRIVATE_COMMANDS, answer_privately, filters=IN_A_GROUP),
        MessageHandler(IN_A_GROUP & filters.TEXT & labels, answer_privately),
    ]
