"""The volunteer: claim a task from the group, run it from the private card."""

from __future__ import annotations

from typing import Any

from telegram import Update
from telegram.ext import CallbackQueryHandler, CommandHandler

from bot.buttons import parse_order_action
from bot.errors import Refused
from bot.i18n import N_
from bot.services import notify, orders
from handlers.common import alert, answer, edit_or_send, inline, unit_of_work
from handlers.context import AppContext


async def claim(update: Update, ctx: AppContext) -> None:
    """o:claim:<id>, pressed in the group (or in a private ping). One press wins."""
    q = update.callback_query
    assert q is not None and q.data is not None
    parsed = parse_order_action(q.data)
    assert parsed is not None
    try:
        async with unit_of_work(update, ctx) as w:
            _ = w._
            v = await orders.claim(ctx.rt, w.session, parsed[1], q.from_user.id)
    except Refused as e:
        await alert(update, e.render(_))
        return
    await answer(
        q,
        _(
            "Task #{id} is yours. The address is in your private chat with me "
            "(if it is not there, open the chat and send /mytasks)."
        ).format(id=v.id),
        show_alert=True,
    )


async def runner_action(update: Update, ctx: AppContext) -> None:
    """o:buy / o:go / o:done / o:rel (ask why) / o:relr:<reason> on the runner's card."""
    q = update.callback_query
    assert q is not None and q.data is not None
    parsed = parse_order_action(q.data)
    assert parsed is not None
    verb, order_id, arg = parsed
    try:
        async with unit_of_work(update, ctx) as w:
            _ = w._
            if verb in ("buy", "go", "done"):
                v = await orders.advance(ctx.rt, w.session, order_id, q.from_user.id, verb)
                text, rows = notify.runner_card(v, _, ctx.rt.timezone)
                if verb == "done":
                    text += "\n\n" + _("Thank you! The resident has been told to take it in.")
            elif verb == "rel":
                v0 = await orders.get_view(w.session, order_id)
                if v0 is None or v0.volunteer_telegram_id != q.from_user.id:
                    raise Refused(N_("Only the volunteer running this task can do that."))
                text, rows = notify.release_reasons(v0, _)
            else:  # relr
                if arg not in notify.RELEASE_REASONS:
                    raise Refused(N_("Please choose one of the reasons."))
                v = await orders.release(
                    ctx.rt, w.session, order_id, q.from_user.id, notify.RELEASE_REASONS[arg]
                )
                text, rows = (
                    _("You gave task #{id} back; it is open in the group again.").format(id=v.id),
                    [],
                )
    except Refused as e:
        await alert(update, e.render(_))
        return
    await answer(q)
    await edit_or_send(update, text, inline(rows))


async def my_tasks(update: Update, ctx: AppContext) -> None:
    assert update.effective_user is not None and update.effective_message is not None
    async with unit_of_work(update, ctx) as w:
        _ = w._
        tasks = await orders.tasks_of_volunteer(w.session, update.effective_user.id)
    if not tasks:
        await update.effective_message.reply_text(_("You are not running any task right now."))
        return
    for v in tasks:
        text, rows = notify.runner_card(v, _, ctx.rt.timezone)
        await update.effective_message.reply_text(text, reply_markup=inline(rows))


def volunteer_handlers() -> list[Any]:
    return [
        CallbackQueryHandler(claim, pattern=r"^o:claim:\d{1,12}$"),
        CallbackQueryHandler(runner_action, pattern=r"^o:(buy|go|done|rel):\d{1,12}$"),
        CallbackQueryHandler(runner_action, pattern=r"^o:relr:\d{1,12}:\w{1,16}$"),
        CallbackQueryHandler(my_tasks_button, pattern=r"^v:tasks$"),
        CommandHandler("mytasks", my_tasks),
    ]


async def my_tasks_button(update: Update, ctx: AppContext) -> None:
    if update.callback_query:
        await answer(update.callback_query)
    await my_tasks(update, ctx)
