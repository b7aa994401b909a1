"""Community staff: approve volunteers, bind a group chat to a grid (notices: handlers/notices)."""

from __future__ import annotations

import logging
from typing import Any

from telegram import Update
from telegram.constants import ChatMemberStatus, ChatType
from telegram.error import TelegramError
from telegram.ext import (
    CallbackQueryHandler,
    CommandHandler,
)

from bot.buttons import Button
from bot.errors import Refused
from bot.services import volunteers
from handlers.callback_data import ID
from handlers.common import STALE, alert, answer, edit_or_send, inline, translator, unit_of_work
from handlers.context import AppContext
from models import Volunteer

logger = logging.getLogger(__name__)

# --- volunteers: approve or reject; bind a group chat to a grid -----------------------------


async def volunteer_decision(update: Update, ctx: AppContext) -> None:
    """v:ok:<id> / v:no:<id> on the sign-up message the deciders received."""
    q = update.callback_query
    assert q is not None and q.data is not None
    verb, raw = q.data.split(":")[1:]
    approve = verb == "ok"
    _ = await translator(update, ctx)
    volunteer_id = int(raw)
    # Check first, so no invite link is made for a press that will be refused.
    async with ctx.rt.db.read() as s:
        vol = await s.get(Volunteer, volunteer_id)
        may = vol is not None and q.from_user.id in await volunteers.deciders(s, vol.grid_id)
        info = await volunteers.get(s, vol.telegram_id) if vol else None
    if not may or info is None:
        await alert(update, _("Only the grid leader or community staff can decide on volunteers."))
        return
    link = None
    if approve and info.status == "pending" and info.group_chat_id is not None:
        try:
            invite = await ctx.bot.create_chat_invite_link(
                info.group_chat_id, member_limit=1, name=f"volunteer {info.name}"[:32]
            )
            link = invite.invite_link
        except TelegramError as exc:  # the group may have removed the bot's rights
            logger.warning("no invite link for group %s: %s", info.group_chat_id, exc)
    try:
        async with unit_of_work(update, ctx) as w:
            _ = w._
            info = await volunteers.decide(
                ctx.rt, w.session, volunteer_id, q.from_user.id, approve, invite_link=link
            )
    except Refused as e:
        await alert(update, e.render(_))
        return
    await answer(q)
    done = (
        _("✅ Approved: {name} ({grid}).") if approve else _("❌ Rejected: {name} ({grid}).")
    ).format(name=info.name, grid=info.grid)
    await edit_or_send(update, done, None)


async def bind_start(update: Update, ctx: AppContext) -> None:
    """/bind in a group chat: staff make it the task group of one of their grids."""
    msg = update.effective_message
    assert msg is not None and update.effective_user is not None and update.effective_chat
    _ = await translator(update, ctx)
    if update.effective_chat.type not in (ChatType.GROUP, ChatType.SUPERGROUP):
        await msg.reply_text(_("Send /bind inside the volunteers' group chat, not here."))
        return
    async with ctx.rt.db.read() as s:
        grids = await volunteers.bindable_grids(s, update.effective_user.id)
    if not grids:
        await msg.reply_text(_("Only community staff can bind a group to a grid."))
        return
    rows = [[Button(label, f"g:bind:{gid}")] for gid, label in grids]
    await msg.reply_text(
        _("Make this group the task group of which grid?"), reply_markup=inline(rows)
    )


async def bind_chosen(update: Update, ctx: AppContext) -> None:
    q = update.callback_query
    chat = update.effective_chat
    assert q is not None and q.data is not None and chat is not None
    _ = await translator(update, ctx)
    if chat.type not in (ChatType.GROUP, ChatType.SUPERGROUP):
        await alert(update, _(STALE))
        return
    # The bot must be able to post here, or the tasks would vanish.
    me = await ctx.bot.get_chat_member(chat.id, ctx.bot.id)
    can_post = me.status in (ChatMemberStatus.ADMINISTRATOR, ChatMemberStatus.MEMBER) or (
        me.status == ChatMemberStatus.RESTRICTED and getattr(me, "can_send_messages", False)
    )
    if not can_post:
        await alert(
            update,
            _(
                "I cannot post in this group. Make me a member who may send "
                "messages, then try again."
            ),
        )
        return
    try:
        async with unit_of_work(update, ctx) as w:
            _ = w._
            label = await volunteers.bind_group(
                w.session, q.from_user.id, int(q.data.split(":")[2]), chat.id, ctx.rt.clock
            )
    except Refused as e:
        await alert(update, e.render(_))
        return
    await answer(q)
    await edit_or_send(
        update,
        _("This group is now the task group of {grid}. New tasks will appear here.").format(
            grid=label
        ),
        None,
    )


def staff_handlers() -> list[Any]:
    return [
        CallbackQueryHandler(volunteer_decision, pattern=rf"^v:(ok|no):{ID}$"),
        CommandHandler("bind", bind_start),
        CallbackQueryHandler(bind_chosen, pattern=rf"^g:bind:{ID}$"),
    ]
