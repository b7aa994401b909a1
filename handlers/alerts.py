"""Staff alerts in Telegram (bot/services/alerts.py): "✅ Handled" under an alert
(``sa:ok:<alert id>``), and 📋 To do, the alerts this person got that nobody has handled yet,
each with its own ✅ (``sa:td:<alert id>``)."""

from __future__ import annotations

from typing import Any

from telegram import Update
from telegram.ext import MessageHandler

from bot.buttons import Button, Rows
from bot.i18n import N_, Gettext, local_time
from bot.services import alerts
from handlers.answers import answer, edit_or_send, pressed
from handlers.callback_data import ID, Callback
from handlers.context import AppContext
from handlers.keyboards import STAFF_TODO, inline
from handlers.menus import label
from handlers.work import Work, attempt

HANDLED = Callback("sa", "ok", alert_id=ID)
TODO_HANDLED = Callback("sa", "td", alert_id=ID)

NOTHING_TO_DO = N_("Nothing waits for you: every alert you got has been handled. 👍")
TODO_TITLE = N_("📋 To do: alerts nobody has handled yet ({n})")


def _todo(items: list[alerts.Open], _: Gettext, tz: str) -> tuple[str, Rows]:
    if not items:
        return _(NOTHING_TO_DO), []
    lines = [_(TODO_TITLE).format(n=len(items))]
    rows: Rows = []
    for i, item in enumerate(items, 1):
        lines.append(f"{i}. {local_time(item.at, tz)} {item.text}")
        label = f"{_(alerts.HANDLE)} {i}"
        rows.append([Button(label, TODO_HANDLED.data(alert_id=item.alert_id))])
    return "\n".join(lines), rows


async def todo_command(update: Update, ctx: AppContext) -> None:
    """📋 To do: the alerts this person got that nobody has handled."""
    msg, user = update.effective_message, update.effective_user
    assert msg is not None and user is not None

    async def listing(w: Work) -> tuple[str, Rows]:
        return _todo(await alerts.to_do(w.session, user.id), w._, ctx.rt.timezone)

    shown = await attempt(update, ctx, listing, write=False)
    if shown is not None:
        await msg.reply_text(shown[0], reply_markup=inline(shown[1]))


async def handled(update: Update, ctx: AppContext) -> None:
    """✅ under an alert: the first press records who handled it; the message then says so."""
    q = pressed(update)
    alert_id = HANDLED.parse(q.data).alert_id
    done = await attempt(
        update, ctx, lambda w: alerts.handle(ctx.rt, w.session, q.from_user.id, alert_id)
    )
    if done is None:
        return
    await answer(q, done.note, show_alert=not done.first)
    if done.text is not None:
        await edit_or_send(update, done.text, inline(done.rows))


async def todo_handled(update: Update, ctx: AppContext) -> None:
    """✅ on the to-do list: the alert handled (or told who did), the list shown anew."""
    q = pressed(update)
    alert_id = TODO_HANDLED.parse(q.data).alert_id

    async def work(w: Work) -> tuple[alerts.Handled, tuple[str, Rows]]:
        done = await alerts.handle(ctx.rt, w.session, q.from_user.id, alert_id, on_alert=False)
        listing = _todo(await alerts.to_do(w.session, q.from_user.id), w._, ctx.rt.timezone)
        return done, listing

    shown = await attempt(update, ctx, work)
    if shown is None:
        return
    done, (text, rows) = shown
    await answer(q, done.note, show_alert=not done.first)
    await edit_or_send(update, text, inline(rows))


def alert_handlers() -> list[Any]:
    return [
        HANDLED.handler(handled),
        TODO_HANDLED.handler(todo_handled),
        MessageHandler(label(STAFF_TODO), todo_command),
    ]
