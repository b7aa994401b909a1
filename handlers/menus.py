"""The staff's and the volunteers' menus (reply keyboards, handlers/keyboards.py): each label
does exactly what its command does, so staff work by buttons and never need to remember a
command. The resident's labels are handled by their own rooms (ordering, my_orders, my_info).

📢 (a notice) is an entry point of the notice conversation (handlers/notices.py), and 📋 (to
do) is handlers/alerts.py's list of the alerts nobody has handled yet."""

from __future__ import annotations

from typing import Any

from telegram.ext import MessageHandler, filters

from handlers import care, notice_receipts, places, repeats, reports, roster, staff, volunteer
from handlers.keyboards import (
    STAFF_CARE,
    STAFF_EXPORT,
    STAFF_NOTICES,
    STAFF_PLACES,
    STAFF_REPEATS,
    STAFF_ROSTER,
    STAFF_STATS,
    STAFF_VOLUNTEERS,
    VOLUNTEER_DUTY,
    VOLUNTEER_HISTORY,
    VOLUNTEER_SHIFTS,
    VOLUNTEER_TASKS,
    label_pattern,
)


def label(msgid: str) -> filters.BaseFilter:
    """A menu label, in any language, sent in a private chat."""
    return filters.ChatType.PRIVATE & filters.Regex(label_pattern(msgid))


def menu_handlers() -> list[Any]:
    # The commands' callbacks read ``ctx.args``, which a label leaves empty: the command's
    # default (today's figures, the whole list) is what the button means.
    pairs = (
        (STAFF_STATS, reports.stats_command),
        (STAFF_CARE, care.care_command),
        (STAFF_NOTICES, notice_receipts.notices_command),
        (STAFF_EXPORT, reports.export_menu),
        (STAFF_ROSTER, roster.roster_command),
        (STAFF_VOLUNTEERS, staff.volunteers_command),
        (STAFF_REPEATS, repeats.staff_list),
        (STAFF_PLACES, places.places_command),
        (VOLUNTEER_TASKS, volunteer.my_tasks),
        (VOLUNTEER_DUTY, volunteer.duty),
        (VOLUNTEER_SHIFTS, roster.shifts_command),
        (VOLUNTEER_HISTORY, volunteer.my_history),
    )
    return [MessageHandler(label(msgid), callback) for msgid, callback in pairs]
