"""The words of the ledger's cells (not its headings, which each sheet module names): the audit
log's actions, who acted on an order, a volunteer's approval, a notice's audience, a
delivery's state. All gettext msgids; the export writes them in Chinese."""

from __future__ import annotations

from bot.i18n import N_

ACTIONS = {
    "staff.added": N_("Staff added"),
    "staff.removed": N_("Staff removed"),
    "group.bound": N_("Group chat bound"),
    "notice.sent": N_("Notice sent"),
    "report.exported": N_("Ledger exported"),
}
ACTORS = {
    "resident": N_("Resident"),
    "volunteer": N_("Volunteer"),
    "staff": N_("Staff"),
    "system": N_("System"),
}
VOLUNTEER_STATUS = {
    "pending": N_("Pending"),
    "approved": N_("Approved"),
    "rejected": N_("Rejected"),
    "suspended": N_("Suspended"),
}
AUDIENCE = {
    "community": N_("Whole community"),
    "grid": N_("Grid"),
    "building": N_("Building"),
    "care": N_("Care list"),
    "volunteers": N_("Volunteers"),
    "everyone": N_("Everyone"),
}
DELIVERY = {
    "sent": N_("Sent"),
    "failed": N_("Send failed"),
}
WAITING = N_("Waiting to send")
COMMAND_LINE = N_("Command line")
ALL = N_("All")
YES = N_("Yes")
NO = N_("No")
