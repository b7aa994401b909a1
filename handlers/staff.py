"""Community staff: a notice to the residents and the group of one grid."""

from __future__ import annotations

import logging
from typing import Any

from telegram import Update
from telegram.constants import ChatMemberStatus, ChatType
from telegram.error import TelegramError
from telegram.ext import (
    CallbackQueryHandler,
    CommandHandler,
    ConversationHandler,
    MessageHandler,
    filters,
)

from bot.buttons import Button
from bot.errors import Refused, check_length
from bot.services import notices, volunteers
from handlers.common import STALE, alert, answer, edit_or_send, inline, translator, unit_of_work
from handlers.context import AppContext
from models import Volunteer

logger = logging.getLogger(__name__)

NOTICE_GRID, NOTICE_TEXT, NOTICE_CONFIRM = range(20, 23)
NOTICE_KEY = "notice"


async def notice_start(update: Update, ctx: AppContext) -> int:
    assert update.effective_user is not None and update.effective_message is not None
    _ = await translator(update, ctx)
    async with ctx.rt.db.read() as s:
        grids = await notices.grids_for_staff(s, update.effective_user.id)
    if not grids:
        await update.effective_message.reply_text(_("Only community staff can send notices."))
        return ConversationHandler.END
    rows = [[Button(name, f"n:g:{gid}")] for gid, name in grids]
    rows.append([Button(_("✖️ Cancel"), "n:stop")])
    await update.effective_message.reply_text(
        _("Send a notice to which grid?"), reply_markup=inline(rows)
    )
    return NOTICE_GRID


async def notice_grid(update: Update, ctx: AppContext) -> int:
    q = update.callback_query
    assert q is not None and q.data is not None and ctx.user_data is not None
    _ = await translator(update, ctx)
    grid_id = int(q.data.split(":")[2])
    async with ctx.rt.db.read() as s:
        allowed = dict(await notices.grids_for_staff(s, q.from_user.id))
    if grid_id not in allowed:
        await alert(update, _(STALE))
        return NOTICE_GRID
    ctx.user_data[NOTICE_KEY] = {"grid_id": grid_id, "grid": allowed[grid_id]}
    await answer(q)
    await edit_or_send(update, _("Type the notice for {grid}:").format(grid=allowed[grid_id]), None)
    return NOTICE_TEXT


async def notice_text(update: Update, ctx: AppContext) -> int:
    assert update.effective_message is not None and ctx.user_data is not None
    _ = await translator(update, ctx)
    draft = ctx.user_data.get(NOTICE_KEY)
    if not draft:
        return ConversationHandler.END
    text = update.effective_message.text or ""
    try:
        check_length(text, ctx.rt.settings.limits.max_text_length * 3)
    except Refused as e:
        await update.effective_message.reply_text(e.render(_))
        return NOTICE_TEXT
    draft["text"] = text
    rows = [[Button(_("📢 Send now"), "n:send")], [Button(_("✖️ Cancel"), "n:stop")]]
    await update.effective_message.reply_text(
        _("Preview, to {grid}:").format(grid=draft["grid"]) + "\n\n" + text,
        reply_markup=inline(rows),
    )
    return NOTICE_CONFIRM


async def notice_send(update: Update, ctx: AppContext) -> int:
    q = update.callback_query
    assert q is not None and ctx.user_data is not None
    draft = ctx.user_data.pop(NOTICE_KEY, None)
    _ = await translator(update, ctx)
    if not draft or "text" not in draft:
        await alert(update, _(STALE))
        return ConversationHandler.END
    try:
        async with unit_of_work(update, ctx) as w:
            result = await notices.send_to_grid(
                ctx.rt, w.session, q.from_user.id, draft["grid_id"], draft["text"]
            )
    except Refused as e:
        await alert(update, e.render(_))
        return ConversationHandler.END
    await answer(q)
    await edit_or_send(
        update,
        _("Notice #{id} is on its way to {n} households and the group of {grid}.").format(
            id=result.id, n=result.recipients, grid=draft["grid"]
        ),
        None,
    )
    return ConversationHandler.END


async def notice_stop(update: Update, ctx: AppContext) -> int:
    _ = await translator(update, ctx)
    if ctx.user_data is not None:
        ctx.user_data.pop(NOTICE_KEY, None)
    if update.callback_query:
        await answer(update.callback_query)
        await edit_or_send(update, _("Stopped. Nothing was sent."), None)
    elif update.effective_message:
        await update.effective_message.reply_text(_("Stopped. Nothing was sent."))
    return ConversationHandler.END


async def notice_stray(update: Update, ctx: AppContext) -> None:
    _ = await translator(update, ctx)
    if update.callback_query:
        await alert(update, _(STALE))
    elif update.effective_message:
        await update.effective_message.reply_text(
            _("Please use the buttons above, type the notice, or /cancel to stop.")
        )


def build_notice_conversation(timeout_s: float) -> ConversationHandler[AppContext]:
    return ConversationHandler(
        entry_points=[CommandHandler("notice", notice_start, filters=filters.ChatType.PRIVATE)],
        states={
            NOTICE_GRID: [CallbackQueryHandler(notice_grid, pattern=r"^n:g:\d+$")],
            NOTICE_TEXT: [MessageHandler(filters.TEXT & ~filters.COMMAND, notice_text)],
            NOTICE_CONFIRM: [CallbackQueryHandler(notice_send, pattern=r"^n:send$")],
        },
        fallbacks=[
            CommandHandler(["cancel", "start"], notice_stop),
            CallbackQueryHandler(notice_stop, pattern=r"^n:stop$"),
            MessageHandler(~filters.COMMAND, notice_stray),
        ],
        name="notice",
        allow_reentry=True,
        persistent=True,
        conversation_timeout=timeout_s,
    )


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
        CallbackQueryHandler(volunteer_decision, pattern=r"^v:(ok|no):\d{1,12}$"),
        CommandHandler("bind", bind_start),
        CallbackQueryHandler(bind_chosen, pattern=r"^g:bind:\d{1,12}$"),
    ]
