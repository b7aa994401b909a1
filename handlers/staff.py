"""Community staff: approve volunteers, suspend or reinstate them (/volunteers), bind a group
chat to a grid (notices: handlers/notices)."""

from __future__ import annotations

import logging
from typing import Any

from telegram import Update
from telegram.constants import ChatMemberStatus, ChatType
from telegram.error import TelegramError
from telegram.ext import (
    CommandHandler,
    filters,
)

from bot.buttons import Button, Rows
from bot.errors import STALE, Refused, stale
from bot.i18n import N_, Gettext
from bot.services import phone_orders, suspension, volunteers
from handlers.answers import alert, answer, edit_or_send, pressed, set_buttons
from handlers.callback_data import ID, Callback, one_of
from handlers.context import AppContext
from handlers.keyboards import inline
from handlers.work import Work, attempt, reading
from models import Volunteer

DECIDE = Callback("v", verb=one_of(("ok", "no")), volunteer_id=ID)
BIND = Callback("g", "bind", grid_id=ID)
GRIDS = Callback("vs", "list")
GRID = Callback("vs", "g", grid_id=ID)
ASK = Callback("vs", verb=one_of(("s", "r")), volunteer_id=ID)
CONFIRMED = Callback("vs", verb=one_of(("sy", "ry")), volunteer_id=ID)
# Allow a volunteer to take orders by phone (📞 代下单), or stop them.
PHONE_ORDERS = Callback("vs", "ph", volunteer_id=ID, allow=one_of(("1", "0")))

logger = logging.getLogger(__name__)

# --- volunteers: approve or reject; bind a group chat to a grid -----------------------------


async def volunteer_decision(update: Update, ctx: AppContext) -> None:
    """v:ok:<id> / v:no:<id> on the sign-up message the deciders received."""
    q = pressed(update)
    values = DECIDE.parse(q.data)
    approve = values.verb == "ok"
    _ = await ctx.gettext()
    volunteer_id: int = values.volunteer_id
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
    decided = await attempt(
        update,
        ctx,
        lambda w: volunteers.decide(
            ctx.rt, w.session, volunteer_id, q.from_user.id, approve, invite_link=link
        ),
    )
    if decided is None:
        # Decided already (by another decider, or a second press): the question shows the
        # decision as it stands and loses its buttons; the alert said so.
        async with ctx.rt.db.read() as s:
            now = await volunteers.get(s, info.telegram_id)
        if now is not None and now.status in ("approved", "rejected"):
            await edit_or_send(update, _decision(_, now, now.status == "approved"), None)
        elif now is not None and now.status != "pending":  # suspended since: no decision left
            await set_buttons(q, None)
        return
    info = decided
    await answer(q)
    await edit_or_send(update, _decision(_, info, approve), None)


def _decision(_: Gettext, info: volunteers.VolunteerInfo, approved: bool) -> str:
    return (
        _("✅ Approved: {name} ({grid}).") if approved else _("❌ Rejected: {name} ({grid}).")
    ).format(name=info.name, grid=info.grid)


async def bind_start(update: Update, ctx: AppContext) -> None:
    """/bind in a group chat: staff make it the task group of one of their grids."""
    msg = update.effective_message
    assert msg is not None and update.effective_user is not None and update.effective_chat
    _ = await ctx.gettext()
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
    rows = [[Button(label, BIND.data(grid_id=gid))] for gid, label in grids]
    await msg.reply_text(
        _("Make this group the task group of which grid?"), reply_markup=inline(rows)
    )


async def bind_chosen(update: Update, ctx: AppContext) -> None:
    q = pressed(update)
    chat = update.effective_chat
    assert chat is not None
    grid_id = BIND.parse(q.data).grid_id
    _ = await ctx.gettext()
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
    label = await attempt(
        update,
        ctx,
        lambda w: volunteers.bind_group(ctx.rt, w.session, q.from_user.id, grid_id, chat.id),
    )
    if label is None:
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


def _volunteer_line(v: suspension.VolunteerLine, _: Gettext) -> str:
    if v.status == "suspended":
        state = _("⛔ suspended")
    else:
        state = _("🟢 on duty") if v.on_duty else _("⚪ off duty")
        if v.running:
            state += " · " + _("running {n}").format(n=v.running)
    return f"{v.name} · {state}"


def _volunteer_listing(
    grid_id: int, grid: str, rows: list[suspension.VolunteerLine], several: bool, _: Gettext
) -> tuple[str, Rows]:
    lines = [_("👥 Volunteers of {grid} ({n}):").format(grid=grid, n=len(rows))]
    buttons: Rows = []
    for v in rows:
        lines.append("• " + _volunteer_line(v, _))
        if v.status == "suspended":
            buttons.append(
                [
                    Button(
                        _("↩️ Reinstate {name}").format(name=v.name),
                        ASK.data(verb="r", volunteer_id=v.id),
                    )
                ]
            )
        else:
            buttons.append(
                [
                    Button(
                        _("✖️ Suspend {name}").format(name=v.name),
                        ASK.data(verb="s", volunteer_id=v.id),
                    ),
                    Button(
                        (
                            _("📵 No phone orders: {name}")
                            if v.phone_orders
                            else _("📞 Phone orders: {name}")
                        ).format(name=v.name),
                        PHONE_ORDERS.data(volunteer_id=v.id, allow="0" if v.phone_orders else "1"),
                    ),
                ]
            )
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
        buttons.append([Button(_("◀️ Other grids"), GRIDS.data())])
    return "\n".join(lines), buttons


async def _grid_screen(w: Work, staff_id: int, grid_id: int) -> tuple[str, Rows]:
    several = len(await volunteers.bindable_grids(w.session, staff_id)) > 1
    grid, rows = await suspension.grid_volunteers(w.session, staff_id, grid_id)
    return _volunteer_listing(grid_id, grid, rows, several, w._)


async def volunteers_command(update: Update, ctx: AppContext) -> None:
    """/volunteers (private): the grids in scope, or the only one's volunteers at once.
    The grid buttons (vs:list) come back here."""
    user = update.effective_user
    assert user is not None
    q = update.callback_query
    _ = await ctx.gettext()
    async with ctx.rt.db.read() as s:
        grids = await volunteers.bindable_grids(s, user.id)
    if not grids:
        if q is not None:
            await alert(update, _(NOT_STAFF))
        elif update.effective_message:
            await update.effective_message.reply_text(_(NOT_STAFF))
        return
    if len(grids) == 1:
        async with reading(ctx) as w:
            text, rows = await _grid_screen(w, user.id, grids[0][0])
    else:
        text = _("Whose volunteers? Choose the grid:")
        rows = [[Button(label, GRID.data(grid_id=gid))] for gid, label in grids]
    if q is not None:
        await answer(q)
        await edit_or_send(update, text, inline(rows))
    elif update.effective_message:
        await update.effective_message.reply_text(text, reply_markup=inline(rows))


async def volunteers_grid(update: Update, ctx: AppContext) -> None:
    """vs:g:<grid id>: that grid's volunteers (also "keep" on a confirmation)."""
    q = pressed(update)
    grid_id = GRID.parse(q.data).grid_id
    screen = await attempt(
        update, ctx, lambda w: _grid_screen(w, q.from_user.id, grid_id), write=False
    )
    if screen is None:
        return
    await answer(q)
    await edit_or_send(update, screen[0], inline(screen[1]))


async def volunteer_phone_orders(update: Update, ctx: AppContext) -> None:
    """vs:ph:<id>: allow the volunteer to take orders by phone, or stop them; the list again."""
    q = pressed(update)
    values = PHONE_ORDERS.parse(q.data)
    volunteer_id = values.volunteer_id

    async def change(w: Work) -> tuple[str, Rows]:
        grid_id = await phone_orders.allow_volunteer(
            ctx.rt, w.session, q.from_user.id, volunteer_id, values.allow == "1"
        )
        return await _grid_screen(w, q.from_user.id, grid_id)

    async def as_it_is(w: Work) -> tuple[str, Rows]:
        vol = await w.session.get(Volunteer, volunteer_id)
        if vol is None:
            raise stale()
        return await _grid_screen(w, q.from_user.id, vol.grid_id)

    screen = await attempt(update, ctx, change)
    if screen is None:
        # Refused (an older list: already so, or changed meanwhile): the list as it is now.
        screen = await attempt(update, ctx, as_it_is, write=False)
        if screen is not None:
            await edit_or_send(update, screen[0], inline(screen[1]))
        return
    await answer(q)
    await edit_or_send(update, screen[0], inline(screen[1]))


async def volunteer_ask(update: Update, ctx: AppContext) -> None:
    """vs:s:<id> / vs:r:<id>: ask before suspending or reinstating."""
    q = pressed(update)
    values = ASK.parse(q.data)
    verb, volunteer_id = values.verb, values.volunteer_id

    async def look(w: Work) -> tuple[int | None, str, list[suspension.VolunteerLine]]:
        vol = await w.session.get(Volunteer, volunteer_id)
        if vol is None:
            return None, "", []
        grid, rows = await suspension.grid_volunteers(w.session, q.from_user.id, vol.grid_id)
        return vol.grid_id, grid, rows

    found = await attempt(update, ctx, look, write=False)
    if found is None:
        return
    grid_id, grid, rows = found
    _ = await ctx.gettext()
    line = next((v for v in rows if v.id == volunteer_id), None)
    wanted = "approved" if verb == "s" else "suspended"
    if grid_id is None or line is None or line.status != wanted:
        await alert(update, _(STALE))
        if grid_id is not None:  # changed meanwhile: the grid's list as it is now
            async with reading(ctx) as w:
                text, buttons = await _grid_screen(w, q.from_user.id, grid_id)
            await edit_or_send(update, text, inline(buttons))
        return
    if verb == "s":
        text = _(
            "Suspend {name} ({grid})? They go off duty; the {n} task(s) they are running go "
            "back to the group; they can no longer take tasks or see residents' addresses. "
            "They are told that they were suspended, not why."
        ).format(name=line.name, grid=grid, n=line.running)
        yes = Button(_("✖️ Yes, suspend"), CONFIRMED.data(verb="sy", volunteer_id=line.id))
    else:
        text = _("Let {name} ({grid}) volunteer again? They are told.").format(
            name=line.name, grid=grid
        )
        yes = Button(_("↩️ Yes, reinstate"), CONFIRMED.data(verb="ry", volunteer_id=line.id))
    await answer(q)
    await edit_or_send(update, text, inline([[yes, Button(_("Back"), GRID.data(grid_id=grid_id))]]))


async def volunteer_confirmed(update: Update, ctx: AppContext) -> None:
    """vs:sy:<id> / vs:ry:<id>: suspend or reinstate, then the grid's list again."""
    q = pressed(update)
    values = CONFIRMED.parse(q.data)
    verb = values.verb
    change = suspension.suspend if verb == "sy" else suspension.reinstate
    res = await attempt(
        update,
        ctx,
        lambda w: change(ctx.rt, w.session, q.from_user.id, volunteer_id=values.volunteer_id),
    )
    if res is None:
        return
    _ = await ctx.gettext()
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
    async with reading(ctx) as w:
        text, rows = await _grid_screen(w, q.from_user.id, res.info.grid_id)
    await answer(q)
    await edit_or_send(update, done + "\n\n" + text, inline(rows))


def staff_handlers() -> list[Any]:
    return [
        DECIDE.handler(volunteer_decision),
        CommandHandler("volunteers", volunteers_command, filters=filters.ChatType.PRIVATE),
        GRIDS.handler(volunteers_command),
        GRID.handler(volunteers_grid),
        ASK.handler(volunteer_ask),
        PHONE_ORDERS.handler(volunteer_phone_orders),
        CONFIRMED.handler(volunteer_confirmed),
        CommandHandler("bind", bind_start),
        BIND.handler(bind_chosen),
    ]
