"""The ledger's orders sheet (订单): one row per order created in the days, with its place,
contact, kind, state, volunteer, amount spent and times. The orders' CSV is this sheet."""

from __future__ import annotations

from typing import Any

from bot.i18n import N_, Gettext, gettext_for
from bot.services import notify
from bot.services.reports.sheets.data import LedgerData
from bot.services.reports.sheets.sheet import Names, Sheet, headings, label, local, yuan

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
    N_("Ordered at"),
    N_("Claimed at"),
    N_("Delivered at"),
    N_("Closed at"),
    N_("Rating"),
    N_("Reason"),
)
MONEY = frozenset({COLUMNS.index(N_("Spent (yuan)"))})
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
                label(notify.CATEGORY, category, _),
                description,
                label(notify.URGENCY, str(urgency), _),
                label(notify.STATUS, str(status), _),
                v[2] if v else "",
                (v[3] or "") if v else "",
                yuan(fen),
                local(created_at, tz),
                local(claimed_at, tz),
                local(delivered_at, tz),
                local(closed_at, tz),
                rating,
                reason or "",
            )
        )
    return Sheet(_(TITLE), headings(COLUMNS, _), rows, MONEY)
