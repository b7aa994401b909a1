"""Keyboards: the resident's main menu (a reply keyboard) and its labels in every language,
the message filters that keep those labels working while a conversation waits, and inline
keyboards made from ``bot.buttons`` rows."""

from __future__ import annotations

import re

from telegram import InlineKeyboardButton, InlineKeyboardMarkup, KeyboardButton, ReplyKeyboardMarkup
from telegram.ext import filters

from bot.buttons import Rows
from bot.i18n import LANGUAGES, N_, Gettext, gettext_for

# Reply-keyboard labels of the resident's main menu; matched in both languages.
MENU_ORDER = N_("📝 Order")
MENU_MY_ORDERS = N_("📋 My orders")
MENU_ME = N_("👤 My info")
MENU_HELP = N_("❓ Help")
MENU_LANGUAGE = N_("🌐 Language")
MENU_LABELS = (MENU_ORDER, MENU_MY_ORDERS, MENU_ME, MENU_HELP, MENU_LANGUAGE)


def label_pattern(msgid: str) -> str:
    """An anchored regex matching a menu label in every language."""
    texts = {gettext_for(lang)(msgid) for lang in LANGUAGES}
    return "^(" + "|".join(re.escape(t) for t in sorted(texts)) + ")$"


# A menu label in any language: the reply keyboard keeps working while a conversation waits.
MENU_ANY = filters.Regex("|".join(label_pattern(label) for label in MENU_LABELS))
# New messages in private chat (an edit of an old message is not a new answer).
PRIVATE_MESSAGE = filters.ChatType.PRIVATE & filters.UpdateType.MESSAGE
PRIVATE_TEXT = PRIVATE_MESSAGE & filters.TEXT & ~filters.COMMAND & ~MENU_ANY
PRIVATE_OTHER = PRIVATE_MESSAGE & ~filters.COMMAND & ~MENU_ANY


def inline(rows: Rows | None) -> InlineKeyboardMarkup | None:
    """Buttons as plain data (``bot.buttons``) as Telegram's inline keyboard; none for none."""
    if not rows:
        return None
    return InlineKeyboardMarkup(
        [[InlineKeyboardButton(b.text, callback_data=b.data) for b in row] for row in rows]
    )


def main_menu(_: Gettext) -> ReplyKeyboardMarkup:
    """The resident's main menu, kept under the text field."""
    return ReplyKeyboardMarkup(
        [
            [KeyboardButton(_(MENU_ORDER)), KeyboardButton(_(MENU_MY_ORDERS))],
            [
                KeyboardButton(_(MENU_ME)),
                KeyboardButton(_(MENU_HELP)),
                KeyboardButton(_(MENU_LANGUAGE)),
            ],
        ],
        resize_keyboard=True,
        is_persistent=True,
    )


def share_phone(_: Gettext) -> ReplyKeyboardMarkup:
    """One button that shares the person's own Telegram phone number (residents and volunteers
    are asked the same way)."""
    return ReplyKeyboardMarkup(
        [[KeyboardButton(_("📱 Share my phone number"), request_contact=True)]],
        resize_keyboard=True,
        one_time_keyboard=True,
    )
