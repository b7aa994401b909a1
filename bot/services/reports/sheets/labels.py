"""The words of the ledger's cells (not its headings, which each sheet module names): the audit
log's actions, who acted on an order, a volunteer's approval, a notice's audience, a
delivery's state. All gettext msgids; the export writes them in Chinese."""

from __future__ import annotations

from bot.i18n import N_

# Every action code the audit log is written with (`audit.record`; a test finds them all in the
# code and checks that each has its label here).
ACTIONS = {
    "phone.household": N_("Household registered for phone orders"),
    "phone.called_back": N_("Resident called back"),
    "phone.allowed": N_("Volunteer allowed to take phone orders"),
    "phone.stopped": N_("Volunteer no longer takes phone orders"),
    "staff.added": N_("Staff added"),
    "staff.removed": N_("Staff removed"),
    "group.bound": N_("Group chat bound"),
    "group.rebound": N_("Group chat moved to another grid"),
    "notice.sent": N_("Notice sent"),
    "notice.scheduled": N_("Notice scheduled"),
    "notice.resent": N_("Notice sent again"),
    "report.exported": N_("Ledger exported"),
    "resident.forget": N_("Resident's data erased"),
    "roster.on": N_("Put on the duty roster"),
    "roster.off": N_("Taken off the duty roster"),
    "volunteer.approved": N_("Volunteer approved"),
    "volunteer.rejected": N_("Volunteer rejected"),
    "volunteer.suspended": N_("Volunteer suspended"),
    "volunteer.reinstated": N_("Volunteer reinstated"),
    "care.mark": N_("Care list: flag set"),
    "care.unmark": N_("Care list: flag removed"),
    "care.assign": N_("Care list: responsible person named"),
    "care.isolation": N_("Home isolation set"),
    "care.isolation_end": N_("Home isolation ended"),
    "setup.imported": N_("Community set up from a file"),
    "places.imported": N_("Distribution points imported from a file"),
    "building.status": N_("Building status set"),
    "building.status_cancelled": N_("Building status change cancelled"),
    "payment.paid": N_("Resident says paid"),
    "payment.received": N_("Volunteer received the money"),
    "phone_order.handed_over": N_("Phone order handed to another staff member"),
    "merchant.added": N_("Partner merchant added"),
    "merchant.updated": N_("Partner merchant changed"),
    "merchant.products": N_("Merchant's product list imported"),
    "merchant.contact": N_("Partner merchant's contact changed"),
    "merchant.removed": N_("Partner merchant taken off a community"),
    "groupbuy.opened": N_("Group-buy opened"),
    "groupbuy.confirmed": N_("Group-buy ordered from the merchant"),
    "groupbuy.delivered": N_("Group-buy delivered to the distribution point"),
}
# The audit log's details, by key: what each is called in the ledger.
DETAILS = {
    "step": N_("Step"),
    "orders": N_("Orders"),
    "recipients": N_("Recipients"),
    "volunteer_id": N_("Volunteer"),
    "starts_at": N_("Shift starts"),
    "role": N_("Role"),
    "scope": N_("Scope"),
    "name": N_("Name"),
    "grid_id": N_("Grid"),
    "from_grid_id": N_("From grid"),
    "to_grid_id": N_("To grid"),
    "telegram_id": N_("Telegram ID"),
    "chat_id": N_("Chat ID"),
    "flag": N_("Flag"),
    "flags": N_("Flags now"),
    "responsible": N_("Responsible person"),
    "was": N_("Before"),
    "until": N_("Until"),
    "notice": N_("Notice no."),
    "text": N_("Text"),
    "n": N_("Households"),
    "rows": N_("Rows"),
    "status": N_("Status"),
    "change": N_("Status change no."),
    "buildings_created": N_("Buildings created"),
    "days": N_("Days"),
    "reason": N_("Reason"),
    "shifts_removed": N_("Shifts removed"),
    "via": N_("Done through"),
    "amount": N_("Amount (¥)"),
    "volunteer": N_("Volunteer"),
    "groupbuy": N_("Group-buy no."),
    "community": N_("Community"),
}
DETAIL = N_("{label}: {value}")
DETAIL_SEPARATOR = N_("; ")
LIST_SEPARATOR = N_(", ")
NOBODY = N_("nobody")
NONE = N_("none")
ERASED = N_("(erased)")
NOTICE_NO = N_("Notice no. {n}")
ORDER_NO = N_("Order no. {n}")
EVERY_COMMUNITY = N_("All communities")
TOTAL = N_("Total: {n}")
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
# How an action was done (the audit's "via").
VIA = {"bot": N_("the bot"), "cli": COMMAND_LINE}
ALL = N_("All")
YES = N_("Yes")
NO = N_("No")


# A group-buy (issue 17): how it is paid, who recorded a household's payment, what a household
# reported about an item (bot/services/groupbuys/doors.py uses the same tables).
GROUPBUY_PAYMENT = {
    "on_delivery": N_("pay on delivery"),
    "online": N_("paid online in advance"),
}
GROUPBUY_PAID_HOW = {
    "cash": N_("cash, noted by the volunteer"),
    "staff": N_("noted by staff"),
    "resident": N_("confirmed by the household"),
}
GROUPBUY_PROBLEMS = {
    "missing": N_("missing"),
    "wrong": N_("wrong item"),
    "damaged": N_("damaged"),
}
