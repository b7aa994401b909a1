"""Community staff: approve volunteers, suspend or reinstate them (/volunteers), bind a group
chat to a grid (notices: handlers/notices)."""

from __future__ import annotations

import logging
from typing import Any

from telegram import Update
from telegram.constants import ChatMemberStatus, ChatType
from telegram.error import TelegramError
from telegram.ext import (
    CallbackQueryHandler,
    CommandHandler,
    filters,
)

from bot.buttons import Button, Rows
from bot.errors import Refused
from bot.i18n import N_, Gettext
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
        try:
            await volunteers.check_rebind(s, update.effective_user.id, update.effective_chat.id)
        except Refused as e:
            refused: str | None = e.render(_)
        else:
            refused = None
    if not grids:
        await msg.reply_text(_("Only community staff can bind a group to a grid."))
        return
    if refused is not None:  # another community's group: not offered at all
        await msg.reply_text(refused)
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
                ctx.rt, w.session, q.from_user.id, int(q.data.split(":")[2]), chat.id
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


# --- /volunteers: suspend or reinstate the volunteers of a grid -------------------------------

NOT_STAFF = N_("Only the grid leader or community staff can suspend or reinstate volunteers.")


def _volunteer_line(v: volunteers.VolunteerLine, _: Gettext) -> str:
    if v.status == "suspended":
        state = _("⛔ suspended")
    else:
        state = _("🟢 on duty") if v.on_duty else _("⚪ off duty")
        if v.running:
            state += " · " + _("running {n}").format(n=v.running)
    return f"{v.name} · {state}"


def _volunteer_listing(
    grid_id: int, grid: str, rows: list[volunteers.VolunteerLine], several: bool, _: Gettext
) -> tuple[str, Rows]:
    lines = [_("👥 Volunteers of {grid} ({n}):").format(grid=grid, n=len(rows))]
    buttons: Rows = []
    for v in rows:
        lines.append("• " + _volunteer_line(v, _))
        if v.status == "suspended":
            buttons.append([Button(_("↩️ Reinstate {name}").format(name=v.name), f"vs:r:{v.id}")])
        else:
            buttons.append([Button(_("✖️ Suspend {name}").format(name=v.name), f"vs:s:{v.id}")])
    if not rows:
        lines.append(_("This grid has no approved volunteers yet."))
    lines.append("")
    lines.append(
        _(
            "A suspended volunteer goes off duty, their running tasks go back to the group, "
            "and they can no longer take tasks or see residents' addresses."
        )
    )
    if several:
        buttons.append([Button(_("◀️ Other grids"), "vs:list")])
    return "\n".join(lines), buttons


async def _grid_screen(
    ctx: AppContext, staff_id: int, grid_id: int, _: Gettext
) -> tuple[str, Rows]:
    async with ctx.rt.db.read() as s:
        several = len(await volunteers.bindable_grids(s, staff_id)) > 1
        grid, rows = await volunteers.grid_volunteers(s, staff_id, grid_id)
    return _volunteer_listing(grid_id, grid, rows, several, _)


async def volunteers_command(update: Update, ctx: AppContext) -> None:
    """/volunteers (private): the grids in scope, or the only one's volunteers at once.
    The grid buttons (vs:list) come back here."""
    user = update.effective_user
    assert user is not None
    q = update.callback_query
    _ = await translator(update, ctx)
    async with ctx.rt.db.read() as s:
        grids = await volunteers.bindable_grids(s, user.id)
    if not grids:
        if q is not None:
            await alert(update, _(NOT_STAFF))
        elif update.effective_message:
            await update.effective_message.reply_text(_(NOT_STAFF))
        return
    if len(grids) == 1:
        text, rows = await _grid_screen(ctx, user.id, grids[0][0], _)
    else:
        text = _("Whose volunteers? Choose the grid:")
        rows = [[Button(label, f"vs:g:{gid}")] for gid, label in grids]
    if q is not None:
        await answer(q)
        await edit_or_send(update, text, inline(rows))
    elif update.effective_message:
        await update.effective_message.reply_text(text, reply_markup=inline(rows))


async def volunteers_grid(update: Update, ctx: AppContext) -> None:
    """vs:g:<grid id>: that grid's volunteers (also "keep" on a confirmation)."""
    q = update.callback_query
    assert q is not None and q.data is not None
    _ = await translator(update, ctx)
    try:
        text, rows = await _grid_screen(ctx, q.from_user.id, int(q.data.split(":")[2]), _)
    except Refused as e:
        await alert(update, e.render(_))
        return
    await answer(q)
    await edit_or_send(update, text, inline(rows))


async def volunteer_ask(update: Update, ctx: AppContext) -> None:
    """vs:s:<id> / vs:r:<id>: ask before suspending or reinstating."""
    q = update.callback_query
    assert q is not None and q.data is not None
    _ = await translator(update, ctx)
    verb, raw = q.data.split(":")[1:]
    async with ctx.rt.db.read() as s:
        vol = await s.get(Volunteer, int(raw))
        try:
            grid, rows = (
                await volunteers.grid_volunteers(s, q.from_user.id, vol.grid_id)
                if vol is not None
                else ("", [])
            )
        except Refused as e:
            await alert(update, e.render(_))
            return
    line = next((v for v in rows if v.id == int(raw)), None)
    wanted = "approved" if verb == "s" else "suspended"
    if vol is None or line is None or line.status != wanted:
        await alert(update, _(STALE))
        return
    if verb == "s":
        text = _(
            "Suspend {name} ({grid})? They go off duty; the {n} task(s) they are running go "
            "back to the group; they can no longer take tasks or see residents' addresses. "
            "They are told that they were suspended, not why."
        ).format(name=line.name, grid=grid, n=line.running)
        yes = Button(_("✖️ Yes, suspend"), f"vs:sy:{line.id}")
    else:
        text = _("Let {name} ({grid}) volunteer again? They are told.").format(
            name=line.name, grid=grid
        )
        yes = Button(_("↩️ Yes, reinstate"), f"vs:ry:{line.id}")
    await answer(q)
    await edit_or_send(update, text, inline([[yes, Button(_("Back"), f"vs:g:{vol.grid_id}")]]))


async def volunteer_confirmed(update: Update, ctx: AppContext) -> None:
    """vs:sy:<id> / vs:ry:<id>: suspend or reinstate, then the grid's list again."""
    q = update.callback_query
    assert q is not None and q.data is not None
    _ = await translator(update, ctx)
    verb, raw = q.data.split(":")[1:]
    try:
        async with unit_of_work(update, ctx) as w:
            _ = w._
            if verb == "sy":
                res = await volunteers.suspend(
                    ctx.rt, w.session, q.from_user.id, volunteer_id=int(raw)
                )
            else:
                res = await volunteers.reinstate(
                    ctx.rt, w.session, q.from_user.id, volunteer_id=int(raw)
                )
    except Refused as e:
        await alert(update, e.render(_))
        return
    if not res.changed:
        done = _("Nothing changed: {name} is {status}.").format(
            name=res.info.name, status=_(volunteers.STATUS_WORDS[res.info.status])
        )
    elif verb == "sy":
        done = _("✖️ Suspended: {name}. Tasks back in the group: {n}.").format(
            name=res.info.name, n=len(res.handed_back)
        )
    else:
        done = _("↩️ Reinstated: {name}.").format(name=res.info.name)
    text, rows = await _grid_screen(ctx, q.from_user.id, res.info.grid_id, _)
    await answer(q)
    await edit_or_send(update, done + "\n\n" + text, inline(rows))


def staff_handlers() -> list[Any]:
    return [
        CallbackQueryHandler(volunteer_decision, pattern=rf"^v:(ok|no):{ID}$"),
        CommandHandler("volunteers", volunteers_command, filters=filters.ChatType.PRIVATE),
        CallbackQueryHandler(volunteers_command, pattern=r"^vs:list$"),
        CallbackQueryHandler(volunteers_grid, pattern=rf"^vs:g:{ID}$"),
        CallbackQueryHandler(volunteer_ask, pattern=rf"^vs:[sr]:{ID}$"),
        CallbackQueryHandler(volunteer_confirmed, pattern=rf"^vs:[sr]y:{ID}$"),
        CommandHandler("bind", bind_start),
        CallbackQueryHandler(bind_chosen, pattern=rf"^g:bind:{ID}$"),
    ]
