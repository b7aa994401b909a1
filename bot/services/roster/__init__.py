"""The duty roster: shift templates, rostered shifts, swaps, reminders and handover posts.

A shift is a template (day 08:00-20:00, night 20:00-08:00: `roster.shifts` in the config) on a
local date, stored as UTC start and end. Staff in scope put a grid's approved volunteers on it
(or import a CSV); a volunteer may hand a shift to a colleague of the grid, who accepts or
declines. Timers are data (DESIGN rule 3): a reminder is claimed by a conditional UPDATE of
`shifts.reminded_at`, a handover post by a unique `handovers` row, each in the transaction that
writes its outbox messages, so two sweeps or a restart never send one twice or lose it.

One module per concern, their public names gathered here (``roster.set_shift``):
`templates` (templates, times, labels), `editing` (staff setting a grid's roster),
`volunteer_shifts` (a volunteer's own shifts), `swaps`, `reminders`, `handover`, `csv_import`.
"""

from __future__ import annotations

from bot.services.roster.csv_import import CSV_COLUMNS, ImportResult, import_csv
from bot.services.roster.editing import (
    REFUSE_NOT_STAFF,
    ROSTER_DAYS,
    Colleague,
    SlotEditor,
    SlotRoster,
    add_shift,
    colleagues,
    grid_in_scope,
    grid_roster,
    roster_of,
    set_shift,
    slot_editor,
)
from bot.services.roster.handover import (
    CLAIM_BUTTONS,
    HANDOVER_WINDOW,
    LIST_MAX,
    RUNNING,
    RUNNING_WORDS,
    HandoverView,
    TaskLine,
    handover_due,
    handover_text,
)
from bot.services.roster.reminders import remind_due
from bot.services.roster.swaps import (
    SwapView,
    accept_swap,
    decline_swap,
    request_state,
    request_swap,
    swap_buttons,
    swap_candidates,
)
from bot.services.roster.templates import (
    REFUSE_STALE,
    TEMPLATE_LABELS,
    WEEKDAYS,
    Slot,
    day_label,
    shift_label,
    shift_times,
    slot,
    slots_of_day,
    template_label,
    template_of,
    times_label,
)
from bot.services.roster.volunteer_shifts import REFUSE_NOT_VOLUNTEER, ShiftView, upcoming

__all__ = [
    "CLAIM_BUTTONS",
    "CSV_COLUMNS",
    "HANDOVER_WINDOW",
    "LIST_MAX",
    "REFUSE_NOT_STAFF",
    "REFUSE_NOT_VOLUNTEER",
    "REFUSE_STALE",
    "ROSTER_DAYS",
    "RUNNING",
    "RUNNING_WORDS",
    "TEMPLATE_LABELS",
    "WEEKDAYS",
    "Colleague",
    "HandoverView",
    "ImportResult",
    "ShiftView",
    "Slot",
    "SlotEditor",
    "SlotRoster",
    "SwapView",
    "TaskLine",
    "accept_swap",
    "add_shift",
    "colleagues",
    "day_label",
    "decline_swap",
    "grid_in_scope",
    "grid_roster",
    "handover_due",
    "handover_text",
    "import_csv",
    "remind_due",
    "request_state",
    "request_swap",
    "roster_of",
    "set_shift",
    "shift_label",
    "shift_times",
    "slot",
    "slot_editor",
    "slots_of_day",
    "swap_buttons",
    "swap_candidates",
    "template_label",
    "template_of",
    "times_label",
    "upcoming",
]
