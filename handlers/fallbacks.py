"""The catch-alls, registered last: a button no handler takes (forged, garbled, from an old
version) gets the stale-button alert, an unknown command a hint, /cancel with nothing under
way says so, and unexpected text or media in private chat says what to do next."""

from __future__ import annotations

from telegram import Update

from bot.errors import STALE
from handlers.answers import alert, drop_buttons, is_private, pressed_label
from handlers.context import AppContext
from handlers.keyboards import menu_for


async def stale_button(update: Update, ctx: AppContext) -> None:
    """Garbage, forged or expired callback data: a clear alert, nothing changed. A button the
    message really carries that nothing takes any more (its conversation finished, was
    stopped or timed out) goes, with its siblings of the same kind (issue 15: a message
    keeps only the buttons that still apply). Only in a private chat: a group's message is
    everybody's, and one person's stale press must not take its buttons from the others."""
    _ = await ctx.gettext()
    await alert(update, _(STALE))
    q = update.callback_query
    if q is not None and q.data and is_private(update) and pressed_label(q) is not None:
        await drop_buttons(q, q.data.split(":")[0] + ":")


async def unknown_command(update: Update, ctx: AppContext) -> None:
    if not is_private(update):
        return
    _ = await ctx.gettext()
    if update.effective_message:
        await update.effective_message.reply_text(
            _("I do not know that command. Send /help to see what I can do.")
        )


async def nothing_to_cancel(update: Update, ctx: AppContext) -> None:
    _ = await ctx.gettext()
    if update.effective_message:
        await update.effective_message.reply_text(_("There is nothing to cancel right now."))


async def unexpected_input(update: Update, ctx: AppContext) -> None:
    """Text or media nobody asked for, in a private chat: say what to do next."""
    if not is_private(update) or update.effective_message is None:
        return
    roles = await ctx.person()  # first: one session reads the roles and the language
    _ = await ctx.gettext()
    menu = menu_for(roles, _)
    if menu is not None:
        await update.effective_message.reply_text(
            _("I did not understand that. Please use the buttons below, or send /help."),
            reply_markup=menu,
        )
    else:
        await update.effective_message.reply_text(
            _("Welcome! Send /start to register your address, then you can order errands.")
        )
