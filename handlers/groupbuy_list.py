"""🛒 团购 in the resident's menu (and /groupbuys): the open group-buys of the household's
building, each as the household's own card with ＋/－ (the same card 🛒 on an announcement
sends), or a word that there is none now."""

from __future__ import annotations

from typing import Any

from telegram import Update
from telegram.ext import CommandHandler, MessageHandler, filters

from bot.i18n import N_
from bot.services.groupbuys import listing
from handlers.context import AppContext
from handlers.keyboards import MENU_GROUPBUYS, label_pattern
from handlers.work import attempt

NONE_OPEN = N_(
    "There is no group-buy open for your building now. When the community opens one, you will "
    "get a message."
)


async def open_groupbuys(update: Update, ctx: AppContext) -> None:
    assert update.effective_user is not None and update.effective_chat is not None
    uid = update.effective_user.id
    # Each card through the outbox, kept: the close edits it (bot/services/groupbuys/kept.py).
    shown = await attempt(update, ctx, lambda w: listing.show_open(ctx.rt, w.session, uid))
    if shown == 0:
        await update.effective_chat.send_message((await ctx.gettext())(NONE_OPEN))


def groupbuy_list_handlers() -> list[Any]:
    private = filters.ChatType.PRIVATE
    return [
        CommandHandler("groupbuys", open_groupbuys, filters=private),
        MessageHandler(private & filters.Regex(label_pattern(MENU_GROUPBUYS)), open_groupbuys),
    ]
