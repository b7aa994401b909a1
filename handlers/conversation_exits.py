"""The ways out of a conversation other than finishing it, made by one factory for all seven:
stopped (/cancel, a ✖️ button), input it does not expect (a stray press of its own prefix gets
the stale-button alert, a stray message a hint, the state kept), and its timeout (the answers
forgotten, optionally with a word to the person; not at all when the person went on at another
instance since this one scheduled it).

Each conversation's builder places the pieces itself, because their order among its own
handlers matters: ``[*exits.stop, *entry_points, *exits.stray]`` as fallbacks, and
``**exits.timeout`` among its states.
"""

from __future__ import annotations

import re
from collections.abc import Callable, Coroutine, Sequence
from dataclasses import dataclass
from enum import Enum
from typing import Any

from telegram import ReplyKeyboardMarkup, ReplyKeyboardRemove, Update
from telegram.ext import (
    BaseHandler,
    CallbackQueryHandler,
    CommandHandler,
    ConversationHandler,
    MessageHandler,
    TypeHandler,
    filters,
)

from bot.errors import STALE
from bot.i18n import N_, Gettext
from handlers.answers import alert, answer, edit_or_send, set_buttons
from handlers.callback_data import Callback
from handlers.context import AppContext
from handlers.keyboards import menu_for
from handlers.persistence import timeout_is_ours

STOPPED = N_("Stopped. Nothing was sent.")
PLEASE_ANSWER = N_(
    "Please answer the question above (use the buttons if there are any), or send /cancel to stop."
)

Handler = BaseHandler[Update, AppContext, Any]
Step = Callable[[Update, AppContext], Coroutine[Any, Any, Any]]


class AfterStop(Enum):
    """The reply keyboard that comes with the answer to a typed /cancel."""

    KEEP = "keep"  # none sent: whatever the person has stays
    REMOVE = "remove"  # a form's own keyboard (share my phone, my name) goes
    MENU = "menu"  # the main menu for a resident, else no keyboard


@dataclass(frozen=True)
class Exits:
    """The handlers a conversation's builder places (see the module's docstring)."""

    stop: list[Handler]
    stray: list[Handler]
    timeout: dict[object, list[Handler]]
    stopper: Step  # the stop itself, for a ✖️ registered outside the conversation too


def _forget(ctx: AppContext, keys: Sequence[str]) -> None:
    if ctx.user_data is not None:
        for key in keys:
            ctx.user_data.pop(key, None)


async def _keyboard(
    ctx: AppContext, after: AfterStop, _: Gettext
) -> ReplyKeyboardMarkup | ReplyKeyboardRemove | None:
    if after is AfterStop.REMOVE:
        return ReplyKeyboardRemove()
    if after is AfterStop.MENU:
        roles = await ctx.person()
        return menu_for(roles, _) or ReplyKeyboardRemove()
    return None


def conversation_exits(
    *,
    forget: Sequence[str],
    commands: Sequence[str] = ("cancel",),
    stop_button: Callback | None = None,
    stopped: str = STOPPED,
    after_stop: AfterStop = AfterStop.KEEP,
    edit_on_stop: bool = True,
    stop: Step | None = None,
    prefix: str | None = None,
    stray_message: str | None = None,
    stray_filter: filters.BaseFilter = ~filters.COMMAND,
    timeout: bool = True,
    timed_out: str | None = None,
    on_timeout: Step | None = None,
) -> Exits:
    """The exits of one conversation.

    forget: its keys in ``user_data``, dropped on a stop and a timeout.
    commands, stop_button: what stops it; ``stopped`` is said (``edit_on_stop``: in place of
    the pressed message, else its buttons go and the text comes anew, for a photo's caption),
    with ``after_stop``'s keyboard when typed. ``stop`` replaces the whole standard stop.
    prefix: its buttons' prefix; one it does not expect now gets the stale-button alert.
    stray_message: the hint for a message (of ``stray_filter``) it does not expect.
    timeout: whether it follows its timeout at all; ``timed_out`` is then said (else quiet);
    ``on_timeout`` replaces the standard one.
    """

    async def stopper(update: Update, ctx: AppContext) -> int:
        _forget(ctx, forget)
        _ = await ctx.gettext()
        q = update.callback_query
        if q is not None:
            await answer(q)
            if edit_on_stop:
                await edit_or_send(update, _(stopped), None)
            else:
                await set_buttons(q, None)
                if update.effective_chat:
                    await update.effective_chat.send_message(_(stopped))
        elif update.effective_message:
            markup = await _keyboard(ctx, after_stop, _)
            await update.effective_message.reply_text(_(stopped), reply_markup=markup)
        return ConversationHandler.END

    async def stray(update: Update, ctx: AppContext) -> None:
        _ = await ctx.gettext()
        if update.callback_query:
            await alert(update, _(STALE))
        elif update.effective_message and stray_message:
            await update.effective_message.reply_text(_(stray_message))

    async def timed_out_(update: Update, ctx: AppContext) -> None:
        _forget(ctx, forget)
        if timed_out and update.effective_chat:
            ctx.forget()  # the context of an update long past: read the language afresh
            _ = await ctx.gettext()
            await update.effective_chat.send_message(_(timed_out))

    stop_step = stop or stopper
    stops: list[Handler] = [CommandHandler(list(commands), stop_step)]
    if stop_button is not None:
        stops.append(stop_button.handler(stop_step))
    strays: list[Handler] = []
    if prefix is not None:
        strays.append(CallbackQueryHandler(stray, pattern=rf"^{re.escape(prefix)}:"))
    if stray_message is not None:
        strays.append(MessageHandler(stray_filter, stray))
    timeouts: dict[object, list[Handler]] = {}
    if timeout:
        on_time = on_timeout or timed_out_

        async def if_ours(update: Update, ctx: AppContext) -> None:
            # Several instances: the person may have gone on at another one since this one
            # scheduled the timeout; then the form is alive there and this job is stale.
            if await timeout_is_ours(ctx.application, if_ours, update):
                await on_time(update, ctx)

        timeouts[ConversationHandler.TIMEOUT] = [TypeHandler(Update, if_ours)]
    return Exits(stop=stops, stray=strays, timeout=timeouts, stopper=stop_step)
