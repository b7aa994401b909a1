"""The ledger's building status sheet (楼栋状态, issue 17): one row per building in scope, its
distribution point or checkpoint, its status (as it was labelled when set) and since when,
and the orders and group-buy households delivered to it in the days. Who changed a status,
and when, is in the audit sheet (building.status)."""

from __future__ import annotations

from bot.i18n import N_, Gettext
from bot.services.reports.sheets.data import LedgerData
from bot.services.reports.sheets.sheet import Names, Sheet, headings, local, totals

TITLE = N_("Building status")
COLUMNS = (
    N_("Community"),
    N_("Grid"),
    N_("Building"),
    N_("Building code"),
    N_("Distribution point"),
    N_("Status"),
    N_("In effect since"),
    N_("Orders delivered"),
    N_("Group-buy households delivered"),
)


def buildings_sheet(data: LedgerData, names: Names, _: Gettext) -> Sheet:
    rows = [
        (
            names.community(data.grids[gid][1]) if gid in data.grids else "",
            names.grid(gid),
            names.building(bid),
            code,
            place,
            label,
            local(since, data.tz) if label else None,
            delivered,
            doors,
        )
        for bid, gid, code, place, label, since, delivered, doors in data.building_status
    ]
    return Sheet(
        _(TITLE),
        headings(COLUMNS, _),
        rows,
        totals=totals(rows, len(COLUMNS), _, frozenset({7, 8})),
    )
