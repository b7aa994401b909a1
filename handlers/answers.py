"""How a callback answers the person: answer a button press (quietly or with an alert), edit
the pressed message or send anew, change a message's buttons, and tell a refusal (an alert for
a press, a reply for a message). Each copes with what Telegram may refuse (a query too old to
answer, a message that cannot be edited) by logging, never by failing the update."""

from __future__ import annotations

import logging
from typing import Any

from telegram import CallbackQuery, InlineKeyboardMarkup, Message, Update
from telegram.constants import ChatType
from telegram.error import BadRequest

from bot.errors import Refused
from handlers.context import AppContext

logger = logging.getLogger(__name__)


def is_private(update: Update) -> bool:
    return bool(update.effective_chat and update.effective_chat.type == ChatType.PRIVATE)


def pressed(update: Update) -> CallbackQuery:
    """The button press this update is (for a callback registered on a button pattern)."""
    q = update.callback_query
    assert q is not None and q.data is not None
    return q


async def answer(q: CallbackQuery, text: str | None = None, show_alert: bool = False) -> None:
    """Answer a button press. A replayed update's query may be too old to answer: the work is
    done anyway, so that is logged, not raised."""
    try:
        await q.answer(text[:200] if text else None, show_alert=show_alert)
    except BadRequest as exc:
        logger.info("could not answer callback query: %s", exc)


async def alert(update: Update, text: str) -> None:
    """Answer a button press with a pop-up the user must dismiss."""
    if update.callback_query:
        await answer(update.callback_query, text, show_alert=True)


async def edit_or_send(update: Update, text: str, markup: InlineKeyboardMarkup | None) -> None:
    """Replace the message whose button was pressed; if it cannot be edited, send anew."""
    q = update.callback_query
    if q and q.message:
        try:
            await q.edit_message_text(text, reply_markup=markup)
            return
        except BadRequest as exc:
            if "not modified" in str(exc).lower():
                return
            logger.info("edit failed (%s); sending a new message", exc)
    if update.effective_chat:
        await update.effective_chat.send_message(text, reply_markup=markup)


def has_buttons(q: CallbackQuery) -> bool:
    """Whether the pressed message (as Telegram has it now) still carries buttons."""
    markup = getattr(q.message, "reply_markup", None)
    return bool(markup and markup.inline_keyboard)


def pressed_label(q: CallbackQuery) -> str | None:
    """The label of the button that was pressed (None: not on the message, e.g. forged)."""
    markup = getattr(q.message, "reply_markup", None)
    for row in markup.inline_keyboard if markup else ():
        for b in row:
            if b.callback_data == q.data:
                return str(b.text)
    return None


def with_choice(q: CallbackQuery) -> str:
    """ "✔ <the pressed button's label>", to echo what a person chose in the message that
    replaces the question (issue 15: what a person chose stays visible); "" if unknown."""
    label = pressed_label(q)
    return f"✔ {label}\n" if label else ""


async def echo_choice(q: CallbackQuery) -> None:
    """The question keeps its text, with the choice under it, and loses its buttons."""
    label = pressed_label(q)
    text = getattr(q.message, "text", None)
    if not label or not text:
        await set_buttons(q, None)
        return
    try:
        await q.edit_message_text(f"{text}\n✔ {label}", reply_markup=None)
    except BadRequest as exc:
        logger.info("choice not echoed: %s", exc)


async def respond(update: Update, text: str, **kw: Any) -> None:
    """A press is answered and its message replaced (unless a reply keyboard comes with the
    text, which only a new message can carry); a message gets a new message."""
    if update.callback_query:
        await answer(update.callback_query)
        markup = kw.get("reply_markup")
        if markup is None or hasattr(markup, "inline_keyboard"):
            await edit_or_send(update, text, markup)
            return
    assert update.effective_chat is not None
    await update.effective_chat.send_message(text, **kw)


async def set_buttons(q: CallbackQuery, markup: InlineKeyboardMarkup | None) -> None:
    """Replace the buttons of the message whose button was pressed (None: remove them). The
    message may already have other buttons or none (a photo, a replayed press): logged, not
    raised."""
    try:
        await q.edit_message_reply_markup(markup)
    except BadRequest as exc:
        logger.info("buttons not changed: %s", exc)


async def tell_refusal(update: Update, ctx: AppContext, refusal: Refused) -> None:
    """A refusal in the sender's language: an alert for a button press, else a reply."""
    text = refusal.render(await ctx.gettext())
    if update.callback_query is not None:
        await alert(update, text)
    elif update.effective_message is not None:
        await update.effective_message.reply_text(text)


async def drop_buttons(q: CallbackQuery, prefix: str, exact: bool = False) -> None:
    """The pressed message loses its buttons whose data starts with ``prefix`` (or, ``exact``,
    is ``prefix``): they no longer apply; its others (on an order's card) stay. Nothing to
    drop: left alone."""
    markup = q.message.reply_markup if isinstance(q.message, Message) else None
    keyboard = markup.inline_keyboard if markup else ()

    def gone(data: object) -> bool:
        return str(data) == prefix if exact else str(data).startswith(prefix)

    kept = [[b for b in row if not gone(b.callback_data)] for row in keyboard]
    rows = [row for row in kept if row]
    if sum(map(len, rows)) == sum(map(len, keyboard)):
        return
    await set_buttons(q, InlineKeyboardMarkup(rows) if rows else None)
