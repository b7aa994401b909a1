"""The bot's place in group chats: a group upgraded to a supergroup (its id changes), the bot
removed from a grid's group or added back. Telegram tells these as updates; the same changes
learnt from a send are followed by the outbox (bot.services.group_chats.GroupChatEvents)."""

from __future__ import annotations

from typing import Any

from telegram import ChatMember, Update
from telegram.constants import ChatType
from telegram.ext import ChatMemberHandler, MessageHandler, filters

from bot.services import group_chats
from handlers.context import AppContext

GROUPS = (ChatType.GROUP, ChatType.SUPERGROUP)
GONE = (ChatMember.LEFT, ChatMember.BANNED)
BACK = (ChatMember.MEMBER, ChatMember.ADMINISTRATOR, ChatMember.RESTRICTED)


async def chat_migrated(update: Update, ctx: AppContext) -> None:
    """The service message in the old group (migrate_to_chat_id) or in the new supergroup
    (migrate_from_chat_id): whichever comes first moves the grid and what is owed to it."""
    msg = update.effective_message
    if msg is None:
        return
    if msg.migrate_to_chat_id:
        old, new = msg.chat_id, msg.migrate_to_chat_id
    elif msg.migrate_from_chat_id:
        old, new = msg.migrate_from_chat_id, msg.chat_id
    else:
        return
    async with ctx.rt.db.session() as s:
        await group_chats.follow_migration(ctx.rt, s, old, new)
    ctx.rt.wake_outbox()


async def my_membership(update: Update, ctx: AppContext) -> None:
    """The bot's own membership of a group changed: removed (left/kicked) tells the grid's
    staff at once; added back clears that, so a later loss is told again."""
    change = update.my_chat_member
    if change is None or change.chat.type not in GROUPS:
        return
    status = change.new_chat_member.status
    async with ctx.rt.db.session() as s:
        if status in GONE:
            await group_chats.group_lost(ctx.rt, s, change.chat.id)
        elif status in BACK:
            await group_chats.group_back(s, change.chat.id)
    ctx.rt.wake_outbox()


def membership_handlers() -> list[Any]:
    return [
        MessageHandler(filters.StatusUpdate.MIGRATE, chat_migrated),
        ChatMemberHandler(my_membership, ChatMemberHandler.MY_CHAT_MEMBER),
    ]
