"""/language and 🌐: each person chooses 中文 or English (``l:<code>``), kept in their
preferences; every later update reads it (handlers/context.py)."""

from __future__ import annotations

from telegram import Update

from bot.buttons import Button
from bot.i18n import LANGUAGES, gettext_for
from bot.services import people
from handlers.answers import answer, edit_or_send, pressed
from handlers.callback_data import Callback, one_of
from handlers.context import AppContext
from handlers.keyboards import inline, menu_for

LANGUAGE_NAMES = {"zh_CN": "中文", "en": "English"}
CHOSEN = Callback("l", code=one_of(LANGUAGES))


async def language_command(update: Update, ctx: AppContext) -> None:
    _ = await ctx.gettext()
    rows = [[Button(name, CHOSEN.data(code=code)) for code, name in LANGUAGE_NAMES.items()]]
    if update.effective_message:
        await update.effective_message.reply_text(
            _("Choose your language:"), reply_markup=inline(rows)
        )


async def language_chosen(update: Update, ctx: AppContext) -> None:
    q = pressed(update)
    code: str = CHOSEN.parse(q.data).code
    async with ctx.rt.db.session() as s:
        await people.set_language(s, ctx.rt.clock, q.from_user.id, code)
        roles = await people.roles_of(s, q.from_user.id)
    _ = gettext_for(code)
    await answer(q)
    await edit_or_send(update, _("Language set: {name}").format(name=LANGUAGE_NAMES[code]), None)
    menu = menu_for(roles, _)
    if menu is not None and update.effective_chat:
        await update.effective_chat.send_message(_("Main menu"), reply_markup=menu)
