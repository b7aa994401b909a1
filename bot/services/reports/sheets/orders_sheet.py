"""The ledger's orders sheet (订单): one row per order created in the days, with its place,
contact, kind, state, volunteer, amount spent and times, and a totals row (how many orders,
and the sum of each column in yuan). The orders' CSV is this sheet without the totals row.

A new column: its msgid in `COLUMNS` and its value at the same place in the row; a column in
yuan also in `MONEY_COLUMNS` (it is then formatted 0.00 and summed in the totals row)."""

from __future__ import annotations

from typing import Any

from bot.i18n import N_, Gettext, gettext_for
from bot.services.orders import texts
from bot.services.reports.sheets.data import LedgerData
from bot.services.reports.sheets.sheet import (
    Names,
    Sheet,
    headings,
    label,
    local,
    totals,
    yuan,
)

TITLE = N_("Orders")
COLUMNS = (
    N_("Order no."),
    N_("Community"),
    N_("Grid"),
    N_("Compound"),
    N_("Building"),
    N_("Unit"),
    N_("Room"),
    N_("Contact"),
    N_("Contact phone"),
    N_("Type"),
    N_("Request"),
    N_("Urgency"),
    N_("Status"),
    N_("Volunteer"),
    N_("Volunteer's phone"),
    N_("Spent (yuan)"),
    N_("Payment status"),
    N_("Resident paid at"),
    N_("Money received at"),
    N_("Ordered at"),
    N_("Claimed at"),
    N_("Delivered at"),
    N_("Closed at"),
    N_("Rating"),
    N_("Reason"),
    N_("Channel"),
    N_("Entered by"),
)
MONEY_COLUMNS = (N_("Spent (yuan)"),)
MONEY = frozenset(COLUMNS.index(c) for c in MONEY_COLUMNS)
# Where the payment of what was spent stands (bot/services/payments.py).
PAYMENT = {
    "received": N_("received"),
    "paid": N_("paid, not yet confirmed"),
    "unpaid": N_("not paid"),
}
# How the order came (issue 16): the resident's own chat, or taken by phone (电话点单).
CHANNEL = {"bot": N_("bot"), "phone": N_("phone")}


def payment_state(
    fen: int | None, status: object, paid_at: object, received_at: object
) -> str | None:
    """The payment column's key (None when nothing is owed: no amount, or not delivered)."""
    if not fen or str(status) not in ("delivered", "confirmed"):
        return None
    if received_at is not None:
        return "received"
    return "paid" if paid_at is not None else "unpaid"


# The headings as exported (in Chinese).
ORDER_HEADINGS = headings(COLUMNS, gettext_for("zh_CN"))


def orders_sheet(data: LedgerData, names: Names, _: Gettext) -> Sheet:
    tz = data.tz
    rows: list[tuple[Any, ...]] = []
    for (
        oid,
        community_id,
        grid_id,
        compound,
        building,
        unit,
        room,
        contact_name,
        contact_phone,
        category,
        description,
        urgency,
        status,
        volunteer_id,
        fen,
        created_at,
        claimed_at,
        delivered_at,
        closed_at,
        rating,
        reason,
        paid_at,
        received_at,
        channel,
        entered_by,
    ) in data.orders:
        v = names.volunteers.get(volunteer_id) if volunteer_id else None
        rows.append(
            (
                oid,
                data.communities.get(community_id, ""),
                names.grid(grid_id),
                compound,
                building,
                unit,
                room,
                contact_name,
                contact_phone,
                label(texts.CATEGORY, category, _),
                description,
                label(texts.URGENCY, str(urgency), _),
                label(texts.STATUS, str(status), _),
                v[2] if v else "",
                (v[3] or "") if v else "",
                yuan(fen),
                label(PAYMENT, payment_state(fen, status, paid_at, received_at), _),
                local(paid_at, tz),
                local(received_at, tz),
                local(created_at, tz),
                local(claimed_at, tz),
                local(delivered_at, tz),
                local(closed_at, tz),
                rating,
                reason or "",
                label(CHANNEL, channel, _),
                # Who took it by phone (staff or a volunteer, by name); empty for the bot's.
                names.who(entered_by) if entered_by is not None else "",
            )
        )
    return Sheet(_(TITLE), headings(COLUMNS, _), rows, MONEY, totals(rows, len(COLUMNS), _, MONEY))
