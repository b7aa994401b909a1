"""The error handler (PTB ``errorhandlerbot.py``, STYLE 10): log first, then tell the
operator chat (no personal data: ``privacy.error_report``), then the person, in the default
language, that nothing was lost."""

from __future__ import annotations

import html
import logging

from telegram import Update
from telegram.constants import ChatType
from telegram.error import BadRequest, Forbidden
from telegram.ext import ContextTypes

from bot.errors import Refused
from bot.i18n import gettext_for
from bot.services import privacy
from handlers.answers import answer

logger = logging.getLogger(__name__)


async def error_handler(update: object, ctx: ContextTypes.DEFAULT_TYPE) -> None:
    """Log first, then tell an operator chat (PTB errorhandlerbot), then the user."""
    rt = ctx.application.bot_data.get("runtime")
    if isinstance(ctx.error, Refused) and isinstance(update, Update) and rt is not None:
        # A refusal that escaped its handler (a forged button's day that is no day) is no
        # fault of ours: said to the person as any refusal is, not reported.
        logger.info("refused outside a unit of work: %s", type(ctx.error).__name__)
        said = ctx.error.render(gettext_for(rt.default_language))
        try:
            if update.callback_query:
                await answer(update.callback_query, said, show_alert=True)
            elif update.effective_chat and update.effective_chat.type == ChatType.PRIVATE:
                await update.effective_chat.send_message(said)
        except (BadRequest, Forbidden):
            pass
        return
    logger.error("error while handling an update", exc_info=ctx.error)
    if rt is not None and rt.settings.bot.operator_chat_id:
        # No phone number or SQL parameter in it (issue 11 point 9): see privacy.error_report.
        tb = privacy.error_report(ctx.error) if ctx.error else ""
        try:
            await ctx.bot.send_message(
                rt.settings.bot.operator_chat_id, f"<pre>{html.escape(tb)}</pre>", parse_mode="HTML"
            )
        except (BadRequest, Forbidden):
            logger.warning("could not report the error to the operator chat")
    if isinstance(update, Update) and update.effective_user and rt is not None:
        _ = gettext_for(rt.default_language)
        text = _("Sorry, something went wrong on our side. Nothing was lost; please try again.")
        try:
            if update.callback_query:
                await answer(update.callback_query, text, show_alert=True)
            elif update.effective_chat and update.effective_chat.type == ChatType.PRIVATE:
                await update.effective_chat.send_message(text)
        except (BadRequest, Forbidden):
            pass
