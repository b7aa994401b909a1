"""Admins: /staff lists the staff with a ✖️ to remove each (after confirming);
/staff add <telegram id> <role> <community code or grid name> <name> adds one."""

from __future__ import annotations

import logging
from typing import Any

from telegram import Update
from telegram.ext import CommandHandler, filters

from bot.buttons import Button, Rows
from bot.errors import STALE, Refused
from bot.i18n import N_, Gettext
from bot.services import outbox_health, staff
from bot.services.messages import tell_with_menu
from handlers.answers import alert, answer, edit_or_send, pressed
from handlers.callback_data import ID, Callback
from handlers.context import AppContext
from handlers.keyboards import inline
from handlers.work import Work, attempt, unit_of_work
from models import StaffRole

STAFF_ADDED = N_(
    "You have been added to the staff: {who}. Your menu is below the text field; /help starts "
    "with staff work."
)
STAFF_REMOVED = N_("Your staff role was removed: {who}. Your menu is below the text field.")

REMOVE = Callback("sf", "rm", staff_id=ID)
REMOVE_CONFIRMED = Callback("sf", "yes", staff_id=ID)
LIST = Callback("sf", "list")

logger = logging.getLogger(__name__)

USAGE = N_(
    "To add staff, send:\n"
    "/staff add <telegram id> <role> <community code or grid name> <name>\n"
    "role: admin, community or grid_leader. An admin has no community or grid:\n"
    "/staff add 123456789 admin 孙老师\n"
    "/staff add 123456789 community xingfu 赵书记\n"
    "/staff add 123456789 grid_leader 第一网格 钱组长"
)
NOT_ADMIN = N_(
    "Only admins can add or remove staff. Your Telegram id is {id}: give it to an admin if "
    "you should be on the staff."
)


def _line(v: staff.StaffView, _: Gettext) -> str:
    role = staff.role_word(v.role)
    scope = f" · {v.scope}" if v.scope else ""
    return _("{label}: {value}").format(
        label=f"{_(role)}{scope}", value=f"{v.name} ({v.telegram_id})"
    )


def _listing(rows: list[staff.StaffView], _: Gettext) -> tuple[str, Rows]:
    lines = [_("👥 Staff ({n}):").format(n=len(rows))]
    buttons: Rows = []
    for v in rows:
        line = _line(v, _)
        lines.append("• " + line)
        buttons.append([Button("✖️ " + line[:60], REMOVE.data(staff_id=v.id))])
    lines.append("")
    lines.append(_(USAGE))
    return "\n".join(lines), buttons


async def staff_command(update: Update, ctx: AppContext) -> None:
    user, msg = update.effective_user, update.effective_message
    assert user is not None and msg is not None
    _ = await ctx.gettext()
    args = list(ctx.args or [])
    async with ctx.rt.db.read() as s:
        admin = await staff.is_admin(s, user.id)
        listing = _listing(await staff.list_staff(s), _) if admin and not args else None
    if not admin:
        await msg.reply_text(_(NOT_ADMIN).format(id=user.id))
        return
    if listing is not None:
        text, rows = listing
        await msg.reply_text(text, reply_markup=inline(rows))
        return
    if args[0].lower() != "add" or len(args) < 4 or not args[1].isdigit():
        await msg.reply_text(_(USAGE))
        return
    tid, role_text = int(args[1]), args[2]
    try:
        role = staff.parse_role(role_text)
    except Refused as e:
        await msg.reply_text(e.render(_) + "\n\n" + _(USAGE))
        return
    rest = args[3:]
    scope: dict[str, str] = {}
    if role != StaffRole.ADMIN:
        if len(rest) < 2:
            await msg.reply_text(_(USAGE))
            return
        scope = {"community" if role == StaffRole.COMMUNITY else "grid": rest[0]}
        rest = rest[1:]
    try:
        async with unit_of_work(ctx) as w:
            res = await staff.add(
                w.session,
                ctx.rt.clock,
                user.id,
                telegram_id=tid,
                name=" ".join(rest),
                role=role,
                **scope,
            )
            if res.added:  # their staff menu comes at once, not at their next /help
                member = res.member
                await tell_with_menu(
                    ctx.rt, w.session, tid, lambda _: _(STAFF_ADDED).format(who=_line(member, _))
                )
    except Refused as e:
        await msg.reply_text(e.render(_) + "\n\n" + _(USAGE))
        return
    if res.added:
        await msg.reply_text(_("✅ Added: {who}").format(who=_line(res.member, _)))
    else:
        await msg.reply_text(
            _("Already on the staff, nothing changed: {who}").format(who=_line(res.member, _))
        )


async def remove_pressed(update: Update, ctx: AppContext) -> None:
    """✖️: ask first."""
    q = pressed(update)
    staff_id = REMOVE.parse(q.data).staff_id

    async def member(w: Work) -> staff.StaffView:
        await staff.require_admin(w.session, q.from_user.id)
        return await staff.get(w.session, staff_id)

    v = await attempt(update, ctx, member, write=False)
    if v is None:  # removed meanwhile: the list as it is now
        await _listing_now(update, ctx)
        return
    await answer(q)
    _ = await ctx.gettext()
    rows = [
        [
            Button(_("✖️ Yes, remove"), REMOVE_CONFIRMED.data(staff_id=staff_id)),
            Button(_("↩️ Keep"), LIST.data()),
        ]
    ]
    await edit_or_send(
        update, _("Remove {who} from the staff?").format(who=_line(v, _)), inline(rows)
    )


async def remove_confirmed(update: Update, ctx: AppContext) -> None:
    q = pressed(update)
    staff_id = REMOVE_CONFIRMED.parse(q.data).staff_id

    async def remove(w: Work) -> tuple[staff.StaffView, tuple[str, Rows]]:
        v = await staff.remove_one(w.session, ctx.rt.clock, q.from_user.id, staff_id)
        # The menu of what they still are (other roles, a volunteer, a resident) comes at once.
        await tell_with_menu(
            ctx.rt, w.session, v.telegram_id, lambda _: _(STAFF_REMOVED).format(who=_line(v, _))
        )
        return v, _listing(await staff.list_staff(w.session), w._)

    removed = await attempt(update, ctx, remove)
    if removed is None:  # removed already (a second press, another admin): the list now
        await _listing_now(update, ctx)
        return
    v, (text, rows) = removed
    await answer(q)
    _ = await ctx.gettext()
    done = _("Removed: {who}").format(who=_line(v, _))
    await edit_or_send(update, done + "\n\n" + text, inline(rows))


async def back_to_list(update: Update, ctx: AppContext) -> None:
    q = update.callback_query
    assert q is not None
    if not await _listing_now(update, ctx, answered=False):
        await alert(update, (await ctx.gettext())(STALE))


async def _listing_now(update: Update, ctx: AppContext, answered: bool = True) -> bool:
    """The pressed message becomes the staff list as it is now (for an admin; False else).
    ``answered``: the press was answered already (a refusal's alert)."""
    q = pressed(update)
    _ = await ctx.gettext()
    async with ctx.rt.db.read() as s:
        if not await staff.is_admin(s, q.from_user.id):
            return False
        text, rows = _listing(await staff.list_staff(s), _)
    if not answered:
        await answer(q)
    await edit_or_send(update, text, inline(rows))
    return True


OUTBOX_STATE = N_(
    "📮 Outgoing messages\n"
    "Waiting to be sent: {backlog}\n"
    "Oldest waiting: {oldest}\n"
    "Failed in the last 24 hours: {failed}"
)
OUTBOX_ERROR = N_("Last error: {error}")
NOTHING_WAITING = N_("nothing")
MINUTES = N_("{n} min")
NOT_ADMIN_OUTBOX = N_("Only admins can see the outgoing messages. Your Telegram id is {id}.")


async def outbox_command(update: Update, ctx: AppContext) -> None:
    """/outbox (admins): how delivery is doing, e.g. during a Telegram outage."""
    user, msg = update.effective_user, update.effective_message
    assert user is not None and msg is not None
    _ = await ctx.gettext()
    async with ctx.rt.db.read() as s:
        admin = await staff.is_admin(s, user.id)
        h = await outbox_health.health(s, ctx.rt.clock.now()) if admin else None
    if h is None:
        await msg.reply_text(_(NOT_ADMIN_OUTBOX).format(id=user.id))
        return
    oldest = (
        _(MINUTES).format(n=int(h.oldest_waiting.total_seconds() // 60))
        if h.oldest_waiting is not None
        else _(NOTHING_WAITING)
    )
    text = _(OUTBOX_STATE).format(backlog=h.backlog, oldest=oldest, failed=h.failed_24h)
    if h.last_error and h.backlog:
        text += "\n" + _(OUTBOX_ERROR).format(error=outbox_health.reason(h.last_error))
    await msg.reply_text(text)


def admin_handlers() -> list[Any]:
    return [
        CommandHandler("staff", staff_command, filters=filters.ChatType.PRIVATE),
        CommandHandler("outbox", outbox_command, filters=filters.ChatType.PRIVATE),
        REMOVE.handler(remove_pressed),
        REMOVE_CONFIRMED.handler(remove_confirmed),
        LIST.handler(back_to_list),
    ]
