"""The ledger's volunteers sheet (志愿者): each volunteer of a grid in scope, their approval,
whether on duty, who decided, and how many tasks they claimed and delivered in the days."""

from __future__ import annotations

from collections import Counter

from bot.i18n import N_, Gettext
from bot.services.reports.sheets.data import LedgerData
from bot.services.reports.sheets.labels import NO, VOLUNTEER_STATUS, YES
from bot.services.reports.sheets.sheet import Names, Sheet, headings, local, totals, word

TITLE = N_("Volunteers")
COLUMNS = (
    N_("No."),
    N_("Name"),
    N_("Phone"),
    N_("Grid"),
    N_("Approval"),
    N_("On duty"),
    N_("Signed up at"),
    N_("Decided by"),
    N_("Decided at"),
    N_("Claimed in period"),
    N_("Delivered in period"),
)
SUMS = frozenset(COLUMNS.index(c) for c in (N_("Claimed in period"), N_("Delivered in period")))


def _done_in_range(data: LedgerData, names: Names) -> dict[str, Counter[int]]:
    """Per volunteer id, the claims and deliveries among the events read."""
    done: dict[str, Counter[int]] = {"claimed": Counter(), "delivered": Counter()}
    for e in data.events:
        actor_tid, to_status = e[3], e[5]
        if actor_tid in names.volunteers_by_tid and to_status in done:
            done[to_status][names.volunteers_by_tid[actor_tid][0]] += 1
    return done


def volunteers_sheet(data: LedgerData, names: Names, _: Gettext) -> Sheet:
    tz = data.tz
    done = _done_in_range(data, names)
    rows = [
        (
            vid,
            name,
            phone or "",
            names.grid(grid_id),
            word(VOLUNTEER_STATUS, str(status), _),
            _(YES) if on_duty_since else _(NO),
            local(created_at, tz),
            names.who(decided_by) if decided_by else "",
            local(decided_at, tz),
            done["claimed"][vid],
            done["delivered"][vid],
        )
        for (
            vid,
            _tid,
            name,
            phone,
            grid_id,
            status,
            on_duty_since,
            created_at,
            decided_by,
            decided_at,
        ) in data.volunteers
        if grid_id in data.grid_ids
    ]
    return Sheet(_(TITLE), headings(COLUMNS, _), rows, totals=totals(rows, len(COLUMNS), _, SUMS))
