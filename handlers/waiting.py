"""🔔 催一催 (w:urge:<order id>): a resident whose order nobody has taken reminds the staff
covering it. The button comes with each escalation step's message (bot/services/waiting.py);
a press too soon is answered kindly with when it may be pressed again."""

from __future__ import annotations

from typing import Any

from telegram import Update
from telegram.ext import CallbackQueryHandler

from bot.services import waiting
from handlers.answers import answer, drop_buttons, pressed, pressed_label
from handlers.callback_data import ID, Callback
from handlers.context import AppContext
from handlers.work import attempt

URGE = Callback("w", "urge", order_id=ID)  # bot.buttons.urge_action makes these buttons


async def urge(update: Update, ctx: AppContext) -> None:
    q = pressed(update)
    order_id = URGE.parse(q.data).order_id
    done = await attempt(
        update, ctx, lambda w: waiting.urge(ctx.rt, w.session, order_id, q.from_user.id)
    )
    if done is None:  # too soon, taken or finished: an alert says so
        async with ctx.rt.db.read() as s:
            still_open = await waiting.may_urge(s, order_id)
        if not still_open and pressed_label(q) is not None:  # taken or finished: 🔔 goes
            await drop_buttons(q, "w:urge:")
        return
    _ = await ctx.gettext()
    await answer(q, _(waiting.URGED))
    if update.effective_chat:
        await update.effective_chat.send_message(_(waiting.URGED))


def waiting_handlers() -> list[CallbackQueryHandler[AppContext, Any]]:
    return [URGE.handler(urge)]
