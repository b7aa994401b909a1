"""Keyboards: the menus (reply keyboards) of residents, volunteers and staff, each person's by
their main role (``menu_for``), their labels in every language, the message filters that keep
those labels working while a conversation waits, and inline keyboards made from
``bot.buttons`` rows."""

from __future__ import annotations

import re
from typing import Any

from telegram import (
    InlineKeyboardButton,
    InlineKeyboardMarkup,
    KeyboardButton,
    ReplyKeyboardMarkup,
    ReplyKeyboardRemove,
)
from telegram.ext import filters

from bot.buttons import Rows
from bot.i18n import LANGUAGES, N_, Gettext, gettext_for
from bot.services.people import Roles

# Reply-keyboard labels of the resident's main menu; matched in both languages.
MENU_ORDER = N_("📝 Order")
MENU_MY_ORDERS = N_("📋 My orders")
MENU_ME = N_("👤 My info")
MENU_GROUPBUYS = N_("🛒 Group-buys")
MENU_HELP = N_("❓ Help")
MENU_LANGUAGE = N_("🌐 Language")
# The staff's menu (handlers/menus.py): each label does what its command does.
STAFF_STATS = N_("📊 Stats")
STAFF_TODO = N_("📋 To do")
STAFF_CARE = N_("🧡 Care list")
STAFF_NOTICE = N_("📢 Send a notice")
STAFF_NOTICES = N_("📬 Notices sent")
STAFF_EXPORT = N_("📤 Export")
STAFF_ROSTER = N_("🗓 Roster")
STAFF_VOLUNTEERS = N_("🙋 Volunteers")
STAFF_PHONE_ORDER = N_("📞 Order by phone")
STAFF_REPEATS = N_("🔁 Repeating orders")
STAFF_PLACES = N_("🏢 Buildings & points")
# The volunteer's menu.
VOLUNTEER_TASKS = N_("🧾 My tasks")
VOLUNTEER_DUTY = N_("🟢 On/off duty")
VOLUNTEER_SHIFTS = N_("🗓 My shifts")
VOLUNTEER_HISTORY = N_("📜 Finished tasks")
STAFF_LABELS = (
    STAFF_STATS,
    STAFF_TODO,
    STAFF_CARE,
    STAFF_NOTICE,
    STAFF_NOTICES,
    STAFF_EXPORT,
    STAFF_ROSTER,
    STAFF_VOLUNTEERS,
    STAFF_PHONE_ORDER,
    STAFF_REPEATS,
    STAFF_PLACES,
)
VOLUNTEER_LABELS = (VOLUNTEER_TASKS, VOLUNTEER_DUTY, VOLUNTEER_SHIFTS, VOLUNTEER_HISTORY)
MENU_LABELS = (
    MENU_ORDER,
    MENU_MY_ORDERS,
    MENU_ME,
    MENU_GROUPBUYS,
    MENU_HELP,
    MENU_LANGUAGE,
    *STAFF_LABELS,
    *VOLUNTEER_LABELS,
)


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
            [
                KeyboardButton(_(MENU_ORDER)),
                KeyboardButton(_(MENU_MY_ORDERS)),
                KeyboardButton(_(MENU_GROUPBUYS)),
            ],
            [
                KeyboardButton(_(MENU_ME)),
                KeyboardButton(_(MENU_HELP)),
                KeyboardButton(_(MENU_LANGUAGE)),
            ],
        ],
        resize_keyboard=True,
        is_persistent=True,
    )


def _keyboard(rows: list[list[str]], _: Gettext) -> ReplyKeyboardMarkup:
    return ReplyKeyboardMarkup(
        [[KeyboardButton(_(label)) for label in row] for row in rows],
        resize_keyboard=True,
        is_persistent=True,
    )


# A staff member or volunteer who also lives here keeps the two buttons of their own orders.
RESIDENT_ROW = [MENU_ORDER, MENU_MY_ORDERS]


def staff_menu(_: Gettext, *, resident: bool = False) -> ReplyKeyboardMarkup:
    """The staff's menu: the work of the day first, then the rarer tools."""
    rows = [
        [STAFF_STATS, STAFF_TODO, STAFF_CARE],
        [STAFF_NOTICE, STAFF_NOTICES, STAFF_EXPORT],
        [STAFF_ROSTER, STAFF_VOLUNTEERS, MENU_HELP],
        [STAFF_PHONE_ORDER, STAFF_REPEATS, STAFF_PLACES],
    ]
    return _keyboard(rows + ([RESIDENT_ROW] if resident else []), _)


def volunteer_menu(
    _: Gettext, *, resident: bool = False, phone_orders: bool = False
) -> ReplyKeyboardMarkup:
    """The volunteer's menu: the tasks they run and their duty (and 📞 when staff allow them
    to take orders by phone)."""
    rows = [
        [VOLUNTEER_TASKS, VOLUNTEER_DUTY],
        [VOLUNTEER_SHIFTS, VOLUNTEER_HISTORY, MENU_HELP],
    ]
    if phone_orders:
        rows.append([STAFF_PHONE_ORDER])
    return _keyboard(rows + ([RESIDENT_ROW] if resident else []), _)


def menu_for(roles: Roles | None, _: Gettext) -> ReplyKeyboardMarkup | None:
    """The menu of this person's main role: staff, else an approved volunteer, else a
    resident; none for someone the bot does not know yet."""
    if roles is None:
        return None
    resident = roles.resident_id is not None
    if roles.is_staff:
        return staff_menu(_, resident=resident)
    if roles.volunteer_id and roles.volunteer_approved:
        return volunteer_menu(_, resident=resident, phone_orders=roles.volunteer_phone_orders)
    return main_menu(_) if resident else None


def menu_json(roles: Roles, _: Gettext) -> dict[str, Any]:
    """``menu_for`` as the outbox keeps a chat keyboard (``Runtime.menu_of``): someone left
    with no role (a rejected volunteer who does not live here) loses the old menu."""
    return (menu_for(roles, _) or ReplyKeyboardRemove()).to_dict()


def share_phone(_: Gettext) -> ReplyKeyboardMarkup:
    """One button that shares the person's own Telegram phone number (residents and volunteers
    are asked the same way)."""
    return ReplyKeyboardMarkup(
        [[KeyboardButton(_("📱 Share my phone number"), request_contact=True)]],
        resize_keyboard=True,
        one_time_keyboard=True,
    )
